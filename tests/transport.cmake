# Transport: CRC32C, the PDU validator, end-to-end qpairs, malformed PDUs.
nvmf_add_test(transport_crc32c SOURCES transport/test_crc32c.c LABELS transport)
nvmf_add_test(transport_pdu_validator SOURCES transport/test_pdu.c LABELS transport)
nvmf_add_test(transport_loopback SOURCES transport/test_transport.c transport/loopback.c
              LABELS transport)
nvmf_add_test(transport_malformed SOURCES transport/test_malformed.c transport/loopback.c
              LABELS transport)
# The same suites on the event-loop engine, sleeping and busy-polling.
foreach(engine epoll poll)
  add_test(NAME transport_loopback_${engine} COMMAND transport_loopback ${engine})
  add_test(NAME transport_malformed_${engine} COMMAND transport_malformed ${engine})
  set_tests_properties(transport_loopback_${engine} transport_malformed_${engine}
                       PROPERTIES TIMEOUT 120 LABELS transport)
endforeach()
# The in-process loop transport: the capsule API, then a whole target and host.
nvmf_add_test(transport_loop SOURCES transport/test_loop.c LABELS transport)
nvmf_add_test(transport_loop_target SOURCES transport/test_loop_target.c LABELS transport)
