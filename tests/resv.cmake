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
