# Fuzz targets (tests/fuzz/).  Every build replays the committed corpus and
# regression inputs through a plain driver; with -DNVMF_FUZZ=ON (clang) the
# same sources also build as libFuzzer binaries (tests/fuzz/run.sh).
set(NVMF_FUZZ_TARGETS pdu_controller pdu_host)
set(fuzz_pdu_controller_SOURCES fuzz/fuzz_pdu.c)
set(fuzz_pdu_host_SOURCES fuzz/fuzz_pdu.c)
set(fuzz_pdu_host_DEFINES FUZZ_HOST)
# The controller's command handling without sockets, and nvmfd's
# configuration readers (tools/nvmfd/config.c compiled in).
list(APPEND NVMF_FUZZ_TARGETS ctrl_cmd config)
set(fuzz_ctrl_cmd_SOURCES fuzz/fuzz_ctrl_cmd.c)
pkg_check_modules(FUZZ_JANSSON REQUIRED IMPORTED_TARGET jansson)
set(fuzz_config_SOURCES fuzz/fuzz_config.c ${PROJECT_SOURCE_DIR}/tools/nvmfd/config.c)
set(fuzz_config_LIBS PkgConfig::FUZZ_JANSSON)
# The host's controller logic against a fake controller, no sockets: the
# link redirects the host's connect() and nvmf_qpair_create() into the
# target's in-memory transport, and pthread_cond_timedwait() so that
# reconnect delays pass at once (see the comment atop fuzz_host_ctrl.c).
list(APPEND NVMF_FUZZ_TARGETS host_ctrl)
set(fuzz_host_ctrl_SOURCES fuzz/fuzz_host_ctrl.c)
set(fuzz_host_ctrl_LINK_OPTIONS -Wl,--wrap=connect -Wl,--wrap=nvmf_qpair_create
    -Wl,--wrap=pthread_cond_timedwait)
# The reservation state file loader (persist through power loss).
list(APPEND NVMF_FUZZ_TARGETS resv_state)
set(fuzz_resv_state_SOURCES fuzz/fuzz_resv_state.c)
# nvmfd's JSON-RPC framing and request handling, dry run (tools/nvmfd/rpc*.c
# compiled in).
list(APPEND NVMF_FUZZ_TARGETS rpc)
set(fuzz_rpc_SOURCES fuzz/fuzz_rpc.c ${PROJECT_SOURCE_DIR}/tools/nvmfd/config.c
    ${PROJECT_SOURCE_DIR}/tools/nvmfd/rpc.c
    ${PROJECT_SOURCE_DIR}/tools/nvmfd/config_save.c ${PROJECT_SOURCE_DIR}/tools/nvmfd/rpc_methods.c
    ${PROJECT_SOURCE_DIR}/tools/nvmfd/rpc_show.c)
set(fuzz_rpc_LIBS PkgConfig::FUZZ_JANSSON)

# nvmfd's metrics endpoint: its HTTP request parser (tools/nvmfd compiled in).
list(APPEND NVMF_FUZZ_TARGETS metrics_http)
set(fuzz_metrics_http_SOURCES fuzz/fuzz_metrics_http.c
    ${PROJECT_SOURCE_DIR}/tools/nvmfd/metrics_http.c ${PROJECT_SOURCE_DIR}/tools/nvmfd/metrics.c)

foreach(t ${NVMF_FUZZ_TARGETS})
  add_executable(fuzz_${t}_replay fuzz/replay.c ${fuzz_${t}_SOURCES})
  target_link_libraries(fuzz_${t}_replay nvmf_test_util ${fuzz_${t}_LIBS})
  target_compile_definitions(fuzz_${t}_replay PRIVATE ${fuzz_${t}_DEFINES})
  target_link_options(fuzz_${t}_replay PRIVATE ${fuzz_${t}_LINK_OPTIONS})
  add_test(NAME fuzz_${t}_corpus
           COMMAND fuzz_${t}_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${t})
  set_tests_properties(fuzz_${t}_corpus PROPERTIES LABELS fuzz TIMEOUT 300)
  if(NVMF_FUZZ)
    add_executable(fuzz_${t} ${fuzz_${t}_SOURCES})
    target_link_libraries(fuzz_${t} nvmf_test_util ${fuzz_${t}_LIBS})
    target_compile_definitions(fuzz_${t} PRIVATE ${fuzz_${t}_DEFINES})
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer ${fuzz_${t}_LINK_OPTIONS})
  endif()
endforeach()
