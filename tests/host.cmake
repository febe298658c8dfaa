# Host library and the nvmf command, against nvmfd on loopback.
nvmf_add_test(host_lib
  SOURCES host/test_host_lib.c host/test_host_lib_recovery.c host/nvmfd_proc.c host/wire_relay.c host/netns.c
  LABELS host
  TIMEOUT 300)
target_compile_definitions(host_lib PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(host_lib nvmfd)
# What needs well-known ports (discover's default, 8009), in a network
# namespace of its own; skipped (77), saying why, where none can be made.
add_test(NAME host_lib_netns COMMAND host_lib netns)
set_tests_properties(host_lib_netns PROPERTIES LABELS host TIMEOUT 60 SKIP_RETURN_CODE 77)
# The nvmf command: every subcommand, failure messages, perf --verify across
# a target restart.  About a minute alone; the timeout leaves room for a run
# beside other CPU-heavy work (222 s seen at a load average of 7).
add_test(NAME host_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/host/cli_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(host_cli PROPERTIES LABELS host TIMEOUT 600)
# Races in the host's queues, ordered with test points (Debug builds; the
# release build skips it, saying why).
nvmf_add_test(host_races
  SOURCES host/test_host_races.c host/nvmfd_proc.c
  LABELS host
  TIMEOUT 120)
target_compile_definitions(host_races PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(host_races nvmfd)
set_tests_properties(host_races PROPERTIES SKIP_RETURN_CODE 77)
# Deadlines against a wall clock stepped a day ahead and back (the
# clockstep LD_PRELOAD shim): every timeout still fires on time.
add_library(clockstep MODULE util/clockstep.c)
target_link_libraries(clockstep ${CMAKE_DL_LIBS})
nvmf_add_test(host_clock_step
  SOURCES host/test_clock_step.c
  LABELS host
  TIMEOUT 180)
target_compile_definitions(host_clock_step PRIVATE CLOCKSTEP_PATH="$<TARGET_FILE:clockstep>")
add_dependencies(host_clock_step clockstep)
# Host multipath against nvmfd: ANA steering and reload failover on two
# ports, an HA pair of daemons with one killed and restarted, the I/O
# policies' spread; verified I/O throughout.
nvmf_add_test(host_mpath
  SOURCES host/test_mpath.c host/nvmfd_proc.c
  LABELS "host;ana"
  TIMEOUT 300)
target_compile_definitions(host_mpath PRIVATE NVMFD_PATH="$<TARGET_FILE:nvmfd>")
add_dependencies(host_mpath nvmfd)
# nvmf with several paths: list-paths, perf --verify across ANA swaps.
add_test(NAME host_mpath_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/host/mpath_cli_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(host_mpath_cli PROPERTIES LABELS "host;ana" TIMEOUT 180)
