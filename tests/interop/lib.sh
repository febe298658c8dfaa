# Shared by the interop scripts (sourced): the harness, and what to do when
# the guest kernel itself falls over.
#
# A guest kernel that panics while it boots, before its init runs, has not
# met the peer under test (seen about once in 50 boots under QEMU's TCG:
# Linux 6.12 in enqueue_timer, 1.5 s in); such a run is started once more.
# Anything that goes wrong once init has started stands.

vm=${LINUX_VM:-"$repo/../shared/interop/linux-vm"}

# nvmfd options for a guest under emulation: Linux opens every I/O queue's
# socket before it sends the first I/O queue Connect, and a 4-CPU guest on a
# loaded 2-core machine was seen to take over nvmfd's default 10 s between a
# socket and its Connect.  The timeout itself is tested by robustness_hostile.
nvmfd_guest_opts=(--connect-timeout 60000)

# linux-vm host options for every guest: Linux sends no keep-alive until all
# of its queues are connected, and an emulated guest on a loaded machine was
# seen to take over the 5 s default KATO between two I/O queue Connects (a
# connect failing in nvme connect).  KATO expiry itself is tested by
# robustness_kato.
vm_host_opts=(--kato 30)

# The console log linux-vm keeps for the target on a port.
vm_target_log() {
	echo "${NVMF_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nvmf-interop}/run/target-$1.log"
}

# vm_retry_boot CONSOLE_LOG CMD...: run CMD (a linux-vm run whose guest
# console goes to CONSOLE_LOG); once more if it failed and the guest
# panicked before init.
vm_retry_boot() {
	local log=$1 rc=0
	shift
	"$@" || rc=$?
	if [ $rc -ne 0 ] && grep -aq 'Kernel panic' "$log" 2>/dev/null &&
		! grep -aq '^NVMF-VM: init started' "$log"; then
		echo "interop: the guest kernel panicked while booting" \
			"($(grep -a -m1 'RIP:' "$log" | sed 's/^\[[^]]*\] //')); booting it once more" >&2
		rc=0
		"$@" || rc=$?
	fi
	return $rc
}
