# Interoperability with real peers, booted in QEMU by ../shared/interop/linux-vm
# (run with: ctest -L interop).  Each linux-vm run takes 20-60 s under TCG.
add_test(NAME interop_linux_host
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host.sh $<TARGET_FILE:nvmfd>)
set_tests_properties(interop_linux_host PROPERTIES LABELS interop TIMEOUT 900)
# The nvmf host command against the real Linux kernel target (nvmet).
add_test(NAME interop_linux_target
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_target.sh ${PROJECT_BINARY_DIR})
set_tests_properties(interop_linux_target PROPERTIES LABELS interop TIMEOUT 600)
