# Robustness (issue 6): hostile peers against a running nvmfd, faults (kill -9
# under write load, keep alive expiry), many connections at once.  Longer runs
# go to `make soak` (tests/soak/run.sh).
set(ROB_NVMFD NVMFD_PATH="$<TARGET_FILE:nvmfd>")

# Every malformed PDU and abusive peer, each followed by a good host and a
# leak check: threads engine with a ramdisk as the raw target, then the
# epoll engine with a file.
nvmf_add_test(robustness_hostile
  SOURCES robustness/hostile_test.c robustness/daemon.c controller/host_helper.c
  LABELS robustness
  TIMEOUT 300)
target_compile_definitions(robustness_hostile PRIVATE ${ROB_NVMFD})
add_dependencies(robustness_hostile nvmfd)
add_test(NAME robustness_hostile_epoll COMMAND robustness_hostile epoll file)
set_tests_properties(robustness_hostile_epoll PROPERTIES TIMEOUT 300 LABELS robustness)

# Regression test of a transport bug found by robustness_hostile: writes
# beyond the transfer tags never got their R2T (fixed in src/tcp).
nvmf_add_test(robustness_repro_r2t_starvation
  SOURCES robustness/repro_r2t_starvation.c transport/loopback.c
  LABELS robustness
  TIMEOUT 60)

# Faults: kill -9 under a write load (acknowledged-and-flushed and FUA writes
# survive), a host that stops its keep alives.
nvmf_add_test(robustness_kill9
  SOURCES robustness/kill9_test.c robustness/write_load.c robustness/daemon.c
          controller/host_helper.c
  LABELS robustness
  TIMEOUT 180)
target_compile_definitions(robustness_kill9 PRIVATE ${ROB_NVMFD})
add_dependencies(robustness_kill9 nvmfd)
nvmf_add_test(robustness_kato
  SOURCES robustness/kato_test.c robustness/daemon.c controller/host_helper.c
  LABELS robustness
  TIMEOUT 120)
target_compile_definitions(robustness_kato PRIVATE ${ROB_NVMFD})
add_dependencies(robustness_kato nvmfd)
# More connections than nvmfd has file descriptors.
nvmf_add_test(robustness_fd_limit
  SOURCES robustness/fd_limit_test.c robustness/daemon.c controller/host_helper.c
  LABELS robustness
  TIMEOUT 120)
target_compile_definitions(robustness_fd_limit PRIVATE ${ROB_NVMFD})
add_dependencies(robustness_fd_limit nvmfd)
# Load: 100 host controllers x (1 admin + 9 I/O queues) = 1000 queue pairs
# against nvmfd's epoll engine, verified I/O on each; figures on a
# "figures:" line.  The longer soak: tests/soak/run.sh.
nvmf_add_test(robustness_many_conns
  SOURCES robustness/many_conns_test.c robustness/daemon.c
  LABELS robustness
  TIMEOUT 180)
target_compile_definitions(robustness_many_conns PRIVATE ${ROB_NVMFD})
add_dependencies(robustness_many_conns nvmfd)
# Power cuts: lazyfs (tests/powercut/lazyfs.c), a FUSE file system that
# keeps every write in memory until fsync and drops what was not synced
# when the test cuts the power; its own test (robustness_lazyfs), then kill
# -9 of nvmfd plus a power cut under the write load (robustness_powercut).
# Both exit 77 (skipped) when FUSE cannot mount here.
pkg_check_modules(FUSE3 REQUIRED IMPORTED_TARGET fuse3)
add_executable(lazyfs powercut/lazyfs.c)
target_link_libraries(lazyfs PkgConfig::FUSE3 Threads::Threads)
set(ROB_LAZYFS LAZYFS_PATH="$<TARGET_FILE:lazyfs>")
nvmf_add_test(robustness_lazyfs
  SOURCES powercut/lazyfs_test.c powercut/lazyfs_ctl.c robustness/daemon.c
  LABELS robustness
  TIMEOUT 120)
target_compile_definitions(robustness_lazyfs PRIVATE ${ROB_NVMFD} ${ROB_LAZYFS})
add_dependencies(robustness_lazyfs lazyfs nvmfd)
set_tests_properties(robustness_lazyfs PROPERTIES SKIP_RETURN_CODE 77)
nvmf_add_test(robustness_powercut
  SOURCES powercut/powercut_test.c powercut/lazyfs_ctl.c robustness/write_load.c
          robustness/daemon.c controller/host_helper.c
  LABELS robustness
  TIMEOUT 180)
target_compile_definitions(robustness_powercut PRIVATE ${ROB_NVMFD} ${ROB_LAZYFS})
add_dependencies(robustness_powercut lazyfs nvmfd)
set_tests_properties(robustness_powercut PROPERTIES SKIP_RETURN_CODE 77)
