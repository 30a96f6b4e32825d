#!/bin/bash
# Guest tests of the arxe.ko that DKMS built and installed in the target
# root (tests/dkms.sh, which leaves it in this suite's output directory as
# arxe-dkms.ko): put where dkms installs it, in place of the image's
# arxe.ko, modprobe loads it, arxe0 on it carries byte-exact transfers
# through aligned MRs, and it unloads leaving the kernel log clean.
#
# Needs two NICs (tools/guest --nics 2, see setup_two_nodes). Prints TAP.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

ko=/arxe/out/arxe-dkms.ko
mods=/lib/modules/$(uname -r)

dkms_module_in_place() {
	[ -f "$ko" ] || fail "no $ko: tests/dkms.sh has not run" || return 1
	rm -f "$mods/updates/arxe.ko"
	install -D -m 0644 "$ko" "$mods/updates/dkms/arxe.ko" || return 1
	depmod -a || return 1
	modinfo -n arxe
	[ "$(modinfo -n arxe)" = "$mods/updates/dkms/arxe.ko" ] ||
		fail "modinfo finds arxe at $(modinfo -n arxe)"
}

modprobe_loads_it() {
	modprobe arxe || return 1
	grep -q '^arxe ' /proc/modules || fail "arxe not in /proc/modules" || return 1
	[ "$(cat /sys/module/arxe/srcversion)" = "$(modinfo -F srcversion "$ko")" ] ||
		fail "the loaded arxe is not DKMS's (srcversion differs)"
}

transfers_through_it() {
	local g

	setup_two_nodes >/dev/null || return 1
	rdma link add arxe0 type arxe netdev eth0 || return 1
	port_active "" arxe0 || return 1
	xlate_set aligned || return 1
	g=$(gid_index "" arxe0 "$A_IP") || return 1
	timeout 300 "$HELPERS/arxe-xfer" arxe0 "$g" arxe0 "$g"
}

unloads_clean() {
	rdma link delete arxe0 || return 1
	modprobe -r arxe || return 1
	! grep -q '^arxe ' /proc/modules || fail "arxe still loaded" || return 1
	kernel_clean
}

tap_begin
t dkms-module-in-place dkms_module_in_place
t modprobe-loads-dkms-module modprobe_loads_it
t transfers-through-dkms-module transfers_through_it
t dkms-module-unloads-clean unloads_clean
tap_end
