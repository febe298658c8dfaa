# Security building blocks: DH-HMAC-CHAP in-band authentication and TLS 1.3
# with pre-shared keys for NVMe/TCP.  Crypto from OpenSSL 3 (libssl-dev); the
# CRC-32 of the key interchange formats from zlib (zlib1g-dev).
pkg_check_modules(NVMF_OPENSSL REQUIRED IMPORTED_TARGET openssl>=3.0)
pkg_check_modules(NVMF_ZLIB REQUIRED IMPORTED_TARGET zlib)
list(APPEND NVMF_SOURCES
  security/secret.c
  security/dhchap.c
  security/tls.c
)
list(APPEND NVMF_LINK_LIBRARIES PkgConfig::NVMF_OPENSSL PkgConfig::NVMF_ZLIB)
