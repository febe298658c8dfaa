# Host library and the nvmf command, against nvmfd on loopback.
nvmf_add_test(host_lib
  SOURCES host/test_host_lib.c host/nvmfd_proc.c
  LABELS host
  TIMEOUT 300)
target_compile_definitions(host_lib PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(host_lib nvmfd)
