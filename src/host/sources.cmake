# The host layer: controllers, queues, commands, discovery.
list(APPEND NVMF_SOURCES
  host/queue.c
  host/ctrl.c
  host/cmd.c
  host/discovery.c
  host/names.c
  host/ids.c
  host/auth.c
  host/multipath.c
)
