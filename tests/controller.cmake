# Controller (target) tests: the library on loopback, and the nvmfd daemon.
nvmf_add_test(controller_target
  SOURCES controller/target_test.c controller/host_helper.c
  TIMEOUT 120)
