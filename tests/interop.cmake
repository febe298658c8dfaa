# Interoperability with real peers, booted in QEMU by ../shared/interop/linux-vm
# (run with: ctest -L interop).  Each linux-vm run takes 20-60 s under TCG.
#
# linux-vm's first build apt-installs QEMU and friends and downloads the
# kernels; two interop tests doing that at once under `ctest -j` fight over
# the dpkg lock, so one setup test builds both kernels before any of them.
# The relay that corrupts a header digest for interop_linux_host_faults must
# hand the host every byte the target sent before it closed (no QEMU needed).
add_test(NAME interop_flip_relay
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/interop/flip_relay_test.py)
set_tests_properties(interop_flip_relay PROPERTIES LABELS interop TIMEOUT 120)
set(NVMF_LINUX_VM ${CMAKE_CURRENT_SOURCE_DIR}/../../shared/interop/linux-vm)
if(NOT EXISTS ${NVMF_LINUX_VM})
  # No harness beside the repository: one test that says so and skips.
  add_test(NAME interop_unavailable
           COMMAND sh -c "echo 'SKIP: interop runs need ../shared/interop/linux-vm beside the repository'; exit 77")
  set_tests_properties(interop_unavailable PROPERTIES LABELS interop SKIP_RETURN_CODE 77)
  return()
endif()
add_test(NAME interop_vm_build
         COMMAND sh -c "\"$0\" build && \"$0\" build --kernel 6.12"
                 ${NVMF_LINUX_VM})
set_tests_properties(interop_vm_build PROPERTIES LABELS interop TIMEOUT 900
                     FIXTURES_SETUP linux_vm)
add_test(NAME interop_linux_host
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host.sh $<TARGET_FILE:nvmfd>)
set_tests_properties(interop_linux_host PROPERTIES LABELS interop TIMEOUT 900)
# The nvmf host command against the real Linux kernel target (nvmet).
add_test(NAME interop_linux_target
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_target.sh ${PROJECT_BINARY_DIR})
set_tests_properties(interop_linux_target PROPERTIES LABELS interop TIMEOUT 600)
# Plain NVMe/TCP must keep passing on Linux 6.12 too: one lean pass each way
# (header and data digests, 4 I/O queues, fio verify / nvmf perf --verify).
add_test(NAME interop_linux_host_6.12
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host.sh $<TARGET_FILE:nvmfd> 6.12)
set_tests_properties(interop_linux_host_6.12 PROPERTIES LABELS interop TIMEOUT 600)
add_test(NAME interop_linux_target_6.12
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_target.sh ${PROJECT_BINARY_DIR} 6.12)
set_tests_properties(interop_linux_target_6.12 PROPERTIES LABELS interop TIMEOUT 600)
# DH-HMAC-CHAP against the real Linux 6.12 kernel (Debian's 6.1 has none):
# its host authenticating to nvmfd (uni SHA-256/null, re-authentication, bi
# SHA-384/ffdhe2048 and SHA-512/ffdhe3072, refusals; one guest boot, ~20 s), and nvmf
# authenticating to nvmet (uni and bi with SHA-512/ffdhe3072 and
# SHA-256/ffdhe2048, refusals; two targets booted side by side, ~45 s).
add_test(NAME interop_linux_host_auth
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host_auth.sh ${PROJECT_BINARY_DIR})
set_tests_properties(interop_linux_host_auth PROPERTIES LABELS interop TIMEOUT 600)
# nvmf_ctrl_reauthenticate against nvmet, run by linux_target_auth.sh.
add_executable(interop_reauth interop/reauth_client.c)
target_link_libraries(interop_reauth nvmf_test_util)
add_test(NAME interop_linux_target_auth
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_target_auth.sh ${PROJECT_BINARY_DIR})
set_tests_properties(interop_linux_target_auth PROPERTIES LABELS interop TIMEOUT 600)
# A namespace added and removed over JSON-RPC (nvmfctl) while the Linux 6.12
# host is connected: it rescans on the event, uses the new one, sees it go.
add_test(NAME interop_linux_host_rpc
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host_rpc.sh ${PROJECT_BINARY_DIR})
set_tests_properties(interop_linux_host_rpc PROPERTIES LABELS "interop;rpc" TIMEOUT 600)
set_tests_properties(interop_linux_host_rpc interop_linux_host interop_linux_target interop_linux_host_6.12
                     interop_linux_target_6.12 interop_linux_host_auth
                     interop_linux_target_auth PROPERTIES FIXTURES_REQUIRED linux_vm)
# Persistent reservations with the real Linux 6.12 host's nvme-cli: the guest
# registers with PTPL and takes Write Exclusive; nvmf as another host reads,
# is refused its write; after nvmfd's kill -9 and restart the reservation
# holds (one guest boot).
add_test(NAME interop_linux_host_resv
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host_resv.sh ${PROJECT_BINARY_DIR})
set_tests_properties(interop_linux_host_resv PROPERTIES LABELS "interop;resv" TIMEOUT 600
                     FIXTURES_REQUIRED linux_vm)
# Wire faults: a relay corrupts one header digest between the real Linux
# host and nvmfd; Linux 6.1 against nvmfd --fatal-error close (admin and
# I/O queue), Linux 6.12 against the default C2HTermReq: each recovers with
# its data intact, no oops.
add_test(NAME interop_linux_host_faults
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host_faults.sh $<TARGET_FILE:nvmfd>)
set_tests_properties(interop_linux_host_faults PROPERTIES LABELS interop TIMEOUT 900
                     FIXTURES_REQUIRED linux_vm)
# Linux 6.12 native multipath against nvmfd's ANA: two ports, the second
# path connected by the guest, states shown as nvmfd gives them, verified
# I/O while a reload makes the first path inaccessible (one boot).
add_test(NAME interop_linux_host_ana_6.12
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host_ana.sh $<TARGET_FILE:nvmfd>)
set_tests_properties(interop_linux_host_ana_6.12 PROPERTIES LABELS "interop;ana" TIMEOUT 600
                     FIXTURES_REQUIRED linux_vm)
# The Linux host on a Ceph RBD namespace (one guest boot): I/O and fio
# verify, the image's NGUID/UUID as Linux reads them, an `rbd resize` seen
# as the new capacity.  Needs the rbd tests' cluster (tests/rbd.cmake).
if(NVMF_HAVE_RBD)
  add_test(NAME interop_linux_host_rbd
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_host_rbd.sh ${PROJECT_BINARY_DIR}
                   ${PROJECT_BINARY_DIR}/rbd-cluster)
  set_tests_properties(interop_linux_host_rbd PROPERTIES LABELS interop TIMEOUT 900
                       SKIP_RETURN_CODE 77 FIXTURES_REQUIRED "linux_vm;rbd_cluster"
                       RESOURCE_LOCK rbd_cluster)
endif()
# The nvmf host's multipath against Linux 6.12 nvmet (one guest driven
# through its serial console): two ports, each with its own state for the
# namespace's ANA group; list-paths shows nvmet's states, perf --verify
# (round-robin, then queue-depth) runs without an error while the guest
# makes port 1 inaccessible, swaps the ports, makes both inaccessible (I/O
# waits) and puts them back.
add_test(NAME interop_linux_target_mpath_6.12
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/linux_target_mpath.sh ${PROJECT_BINARY_DIR})
set_tests_properties(interop_linux_target_mpath_6.12 PROPERTIES LABELS "interop;ana" TIMEOUT 900
                     SKIP_RETURN_CODE 77 FIXTURES_REQUIRED linux_vm)
