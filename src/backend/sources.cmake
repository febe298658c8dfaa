# Namespace backends (file, block device, ramdisk) and the I/O worker pool.
list(APPEND NVMF_SOURCES
  backend/backend.c
  backend/file.c
  backend/ramdisk.c
)
