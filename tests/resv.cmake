# Persistent reservations (tests/resv/): several hosts against the target
# in this process, and nvmfd killed with -9 and restarted (PTPL).
nvmf_add_test(resv
  SOURCES resv/resv_test.c controller/host_helper.c
  LABELS resv controller
  TIMEOUT 120)
target_compile_definitions(resv PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(resv nvmfd)
add_test(NAME resv_nvmfd COMMAND resv nvmfd)
set_tests_properties(resv_nvmfd PROPERTIES TIMEOUT 180 LABELS "resv;controller")
# nvmf resv-* against nvmfd, two hosts: the nvme-cli options, a refused
# write saying "reservation conflict", the report in both formats.
add_test(NAME resv_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/resv/resv_cli.sh ${PROJECT_BINARY_DIR})
set_tests_properties(resv_cli PROPERTIES LABELS "resv;host" TIMEOUT 180)
