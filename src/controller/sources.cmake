# The controller (target) layer of libnvmf: subsystems, controllers,
# admin/I/O/discovery command handling.
list(APPEND NVMF_SOURCES
  controller/target.c
  controller/info.c
  controller/conn.c
  controller/reaper.c
  controller/admin.c
  controller/io.c
  controller/resv.c
  controller/discovery.c
  controller/ana.c
  controller/auth.c
  controller/listen.c
  controller/cmd.c
  controller/objects.c
  controller/stats.c
)
