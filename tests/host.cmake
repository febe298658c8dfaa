# Host library and the nvmf command, against nvmfd on loopback.
nvmf_add_test(host_lib
  SOURCES host/test_host_lib.c host/nvmfd_proc.c host/wire_relay.c
  LABELS host
  TIMEOUT 300)
target_compile_definitions(host_lib PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(host_lib nvmfd)
# The nvmf command: every subcommand, failure messages, perf --verify across
# a target restart.
add_test(NAME host_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/host/cli_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(host_cli PROPERTIES LABELS host TIMEOUT 300)
