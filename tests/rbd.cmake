# nvmfd on Ceph RBD images, against a real one-node cluster on loopback that
# the rbd_cluster fixture starts once and stops at the end (label rbd).
# Without Ceph installed (scripts/install-deps.sh) or without librbd in
# this build, every test skips (77) saying why.
set(RBD_CLUSTER_DIR ${PROJECT_BINARY_DIR}/rbd-cluster)
if(NVMF_HAVE_RBD)
  add_test(NAME rbd_cluster_start
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/rbd/cluster.sh start ${RBD_CLUSTER_DIR})
  set_tests_properties(rbd_cluster_start PROPERTIES FIXTURES_SETUP rbd_cluster
                       LABELS rbd TIMEOUT 120 SKIP_RETURN_CODE 77 RESOURCE_LOCK rbd_cluster)
  add_test(NAME rbd_cluster_stop
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/rbd/cluster.sh stop ${RBD_CLUSTER_DIR})
  set_tests_properties(rbd_cluster_stop PROPERTIES FIXTURES_CLEANUP rbd_cluster
                       LABELS rbd TIMEOUT 60 RESOURCE_LOCK rbd_cluster)
  # What the nvmf command does not show: identification descriptors, the
  # event a resize brings.
  add_executable(rbd_host rbd/rbd_host.c)
  target_link_libraries(rbd_host nvmf_test_util)
  foreach(case failover twogw durability resize outage unreachable resv mpath)
    add_test(NAME rbd_${case}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/rbd/rbd_test.sh ${PROJECT_BINARY_DIR}
                     ${RBD_CLUSTER_DIR} ${case})
    add_dependencies(rbd_host nvmfd nvmf)
    # One at a time: the outage case stops the cluster's only OSD.
    set_tests_properties(rbd_${case} PROPERTIES FIXTURES_REQUIRED rbd_cluster LABELS rbd
                         TIMEOUT 180 SKIP_RETURN_CODE 77 RESOURCE_LOCK rbd_cluster)
  endforeach()
else()
  add_test(NAME rbd_skipped COMMAND sh -c "echo 'SKIP: built without librbd (scripts/install-deps.sh, then re-run cmake)'; exit 77")
  set_tests_properties(rbd_skipped PROPERTIES LABELS rbd SKIP_RETURN_CODE 77)
endif()
