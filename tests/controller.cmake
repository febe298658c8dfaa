# Controller (target) tests: the library on loopback, and the nvmfd daemon.
nvmf_add_test(controller_target
  SOURCES controller/target_test.c controller/host_helper.c
  TIMEOUT 120)
nvmf_add_test(controller_nvmfd
  SOURCES controller/nvmfd_test.c controller/host_helper.c
  TIMEOUT 180)
target_compile_definitions(controller_nvmfd PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(controller_nvmfd nvmfd)
