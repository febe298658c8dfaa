# Controller (target) tests: the library on loopback, and the nvmfd daemon.
nvmf_add_test(controller_target
  SOURCES controller/target_test.c controller/host_helper.c
  TIMEOUT 120)
nvmf_add_test(controller_nvmfd
  SOURCES controller/nvmfd_test.c controller/host_helper.c host/netns.c
  TIMEOUT 180)
target_compile_definitions(controller_nvmfd PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(controller_nvmfd nvmfd)
# nvmfd's default ports (4420, 8009) and address, in a network namespace of
# its own; skipped (77), saying why, where none can be made.
add_test(NAME controller_nvmfd_defaults COMMAND controller_nvmfd defaults)
set_tests_properties(controller_nvmfd_defaults PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
# Two nvmfd with the default discovery port (8009), in a namespace the same way.
add_test(NAME controller_nvmfd_several COMMAND controller_nvmfd several)
set_tests_properties(controller_nvmfd_several PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77)
# Loopback throughput figures (short; prints IOPS and MiB/s per case).
nvmf_add_test(controller_perf
  SOURCES controller/perf.c controller/host_helper.c
  LABELS perf
  TIMEOUT 120)
# The block device backend on a loop device: needs root; skipped (77),
# saying why, where no loop device can be had.
add_test(NAME controller_target_blockdev COMMAND controller_target blockdev)
set_tests_properties(controller_target_blockdev PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
# The same tests with the target's connections on one event-loop thread.
add_test(NAME controller_target_epoll COMMAND controller_target epoll)
set_tests_properties(controller_target_epoll PROPERTIES TIMEOUT 120)
# The controller fed capsules through an in-memory transport: no sockets.
nvmf_add_test(controller_no_socket
  SOURCES controller/no_socket_test.c
  TIMEOUT 120)
# Races and stalls in the target's teardown, ordered with test points
# (Debug builds; the release build skips it, saying why).
nvmf_add_test(controller_target_races
  SOURCES controller/target_races_test.c controller/host_helper.c
  TIMEOUT 120)
set_tests_properties(controller_target_races PROPERTIES SKIP_RETURN_CODE 77)
# A namespace file nvmfd creates is synced, with its directory, before it is
# served (traced with strace; skipped, saying why, where it cannot trace).
add_test(NAME controller_durable_create
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/controller/durable_create_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(controller_durable_create PROPERTIES LABELS controller TIMEOUT 120
                     SKIP_RETURN_CODE 77)
# The RAM disk backend alone: never-written blocks read as zeroes without
# faulting pages in; written and deallocated blocks read back.
nvmf_add_test(controller_ramdisk
  SOURCES controller/ramdisk_test.c
  LABELS controller
  TIMEOUT 60)
# nvmfd under taskset: one default-engine loop per CPU of the mask, pinned
# there, and every thread named.
add_test(NAME controller_affinity
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/controller/affinity_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(controller_affinity PROPERTIES LABELS "controller;perf" TIMEOUT 180)
# nvmfd --metrics: counters against nvmf perf's totals, gauges, errors by
# status and transport kind, and the HTTP endpoint's answers to bad requests.
nvmf_add_test(controller_metrics
  SOURCES controller/metrics_test.c controller/host_helper.c robustness/daemon.c
  LABELS controller metrics
  TIMEOUT 180)
target_compile_definitions(controller_metrics PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>"
                           NVMF_PATH="$<TARGET_FILE:nvmf_cli>")
add_dependencies(controller_metrics nvmfd nvmf_cli)
# ANA on the controller: identify fields, the ANA log, path statuses, the
# change event, controller ID ranges of an HA pair.
nvmf_add_test(controller_ana
  SOURCES controller/ana_test.c controller/host_helper.c
  LABELS "controller;ana"
  TIMEOUT 120)
