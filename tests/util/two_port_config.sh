# SPDX-License-Identifier: MIT
# Shared by the multipath shell tests (sourced): an nvmetcli-format
# configuration of one subsystem (a 64 MiB RAM namespace, ANA group 1) on
# two ports, each with its own state for the group, written atomically so
# that a reload never reads half a file.
#   two_port_config DIR NQN PORT1 PORT2 STATE1 STATE2  -> DIR/config.json
two_port_config() {
	local dir=$1 nqn=$2 p1=$3 p2=$4 s1=$5 s2=$6

	cat >"$dir/config.json.new" <<JSON
{"ports": [
 {"portid": 1, "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "$p1"},
  "subsystems": ["$nqn"], "ana_groups": [{"grpid": 1, "ana": {"state": "$s1"}}]},
 {"portid": 2, "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "$p2"},
  "subsystems": ["$nqn"], "ana_groups": [{"grpid": 1, "ana": {"state": "$s2"}}]}],
 "subsystems": [{"nqn": "$nqn", "attr": {"allow_any_host": "1"},
   "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "ramdisk:64M"}}]}]}
JSON
	mv "$dir/config.json.new" "$dir/config.json"
}
