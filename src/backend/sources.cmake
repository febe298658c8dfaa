# Namespace backends (file, block device, ramdisk) and the I/O worker pool.
list(APPEND NVMF_SOURCES
  backend/backend.c
  backend/file.c
  backend/resv_file.c
  backend/ramdisk.c
)

# RBD (Ceph) namespaces when librbd is there: Debian's librbd-dev has no
# pkg-config file, hence find_library.
find_path(RBD_INCLUDE_DIR rbd/librbd.h)
find_library(RBD_LIBRARY rbd)
find_library(RADOS_LIBRARY rados)
if(RBD_INCLUDE_DIR AND RBD_LIBRARY AND RADOS_LIBRARY)
  set(NVMF_HAVE_RBD ON CACHE INTERNAL "librbd found: rbd: namespaces built")
  list(APPEND NVMF_SOURCES backend/rbd.c backend/rbd_resv.c)
  list(APPEND NVMF_LINK_LIBRARIES ${RBD_LIBRARY} ${RADOS_LIBRARY})
  set_source_files_properties(backend/backend.c PROPERTIES COMPILE_DEFINITIONS NVMF_HAVE_RBD)
else()
  set(NVMF_HAVE_RBD OFF CACHE INTERNAL "librbd missing: rbd: namespaces refused")
  message(STATUS "librbd not found: rbd: namespaces refused (scripts/install-deps.sh)")
endif()
