# nvmf mount (FUSE) against nvmfd on loopback: shell scripts under mount/,
# run as root; each skips (77) with the reason when FUSE cannot mount here.
foreach(t fs fio semantics lifecycle reconnect)
  add_test(NAME mount_${t}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/mount/${t}_test.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(mount_${t} PROPERTIES LABELS mount TIMEOUT 180 SKIP_RETURN_CODE 77)
endforeach()
# Over two paths (ANA reload, two daemons killed in turn).
add_test(NAME mount_mpath
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/mount/mpath_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(mount_mpath PROPERTIES LABELS mount TIMEOUT 300 SKIP_RETURN_CODE 77)
