# Security building blocks: DH-HMAC-CHAP and TLS 1.3 PSK (src/security).
nvmf_add_test(security_dhchap SOURCES security/test_dhchap.c LABELS security)
nvmf_add_test(security_tls SOURCES security/test_tls.c LABELS security)
