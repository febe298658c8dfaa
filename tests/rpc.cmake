# nvmfd's JSON-RPC API and nvmfctl, against the daemon as a process.
pkg_check_modules(RPC_TEST_JANSSON REQUIRED IMPORTED_TARGET jansson)
nvmf_add_test(rpc_nvmfd
  SOURCES rpc/rpc_test.c
  LIBS PkgConfig::RPC_TEST_JANSSON
  LABELS rpc
  TIMEOUT 180)
target_compile_definitions(rpc_nvmfd PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>"
                           NVMFCTL_PATH="$<TARGET_FILE:nvmfctl>"
                           CLOCKSTEP_PATH="$<TARGET_FILE:clockstep>")
add_dependencies(rpc_nvmfd nvmfd nvmfctl clockstep)
