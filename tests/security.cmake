# Security building blocks: DH-HMAC-CHAP and TLS 1.3 PSK (src/security).
nvmf_add_test(security_dhchap SOURCES security/test_dhchap.c LABELS security)
nvmf_add_test(security_tls SOURCES security/test_tls.c LABELS security)
# Secure channels end to end: the host library against nvmfd (DH-HMAC-CHAP,
# TLS, both together, refusals, re-authentication, a capture of the wire).
nvmf_add_test(security_nvmfd
  SOURCES security/secure_nvmfd_test.c host/nvmfd_proc.c host/wire_relay.c
  LABELS security
  TIMEOUT 300)
target_compile_definitions(security_nvmfd PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(security_nvmfd nvmfd)
# The same from the command line: nvmf gen-dhchap-key / gen-tls-key, nvmfd's
# and nvmf's secure channel options, one-line refusals.
add_test(NAME security_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/security/cli_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(security_cli PROPERTIES LABELS security TIMEOUT 300)
