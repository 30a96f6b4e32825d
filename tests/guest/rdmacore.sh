#!/bin/bash
# rdma-core's own verbs test suite (tests/guest/pyverbs.sh) on arxe devices
# with the IOMMU in each translation mode (aligned, iova, pages), against
# a stock rxe0 on eth1 in namespace peer of the same guest: per test module
# and mode, no failure and no error on arxe, and every test that passes on
# rxe0 passes on arxe. Two runs at a time (the guest has two CPUs, a run
# uses one): arxe0 (eth0, here) in aligned mode beside rxe0, then arxe0 in
# iova mode beside arxe1 (eth2, namespace node3) in pages mode, each
# device in its own mode through its xlate attribute. The mode without an
# IOMMU (fallback) is run by guest.fallback. Needs --nics 3 and --mem 3G
# (512 MiB of huge pages).
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/guest/pyverbs.sh
. "$(dirname "$0")/pyverbs.sh"

N3_IP=10.0.0.3

# setup: arxe0 and rxe0 (setup_arxe_and_rxe), and arxe1 on eth2 in
# namespace node3, a third node on the hub.
setup() {
	setup_arxe_and_rxe && pyverbs_setup || return 1
	ip netns add node3 && ip link set eth2 netns node3 &&
		in_ns node3 ip link set lo up &&
		in_ns node3 ip addr add "$N3_IP/24" dev eth2 &&
		in_ns node3 ip link set eth2 up &&
		in_ns node3 rdma link add arxe1 type arxe netdev eth2 &&
		port_active node3 arxe1
}

# dev_mode DEV MODE: DEV's new MRs in MODE, whatever the module parameter
# says; the attribute must read back as MODE.
dev_mode() {
	local attr=/sys/class/infiniband/$1/xlate

	echo "$2" >"$attr" || return 1
	echo "$1: xlate $(cat "$attr")"
	[ "$(cat "$attr")" = "$2" ] || fail "$attr reads $(cat "$attr"), not $2"
}

# run_aligned: arxe0 in aligned mode (the module parameter's, the device
# following it), beside rxe0's run.
run_aligned() {
	local attr=/sys/class/infiniband/arxe0/xlate

	xlate_set aligned || return 1
	echo "arxe0: xlate $(cat "$attr")"
	[ "$(cat "$attr")" = "aligned (module default)" ] ||
		fail "$attr reads $(cat "$attr"), not the module default" || return 1
	pyverbs_run "" arxe0 arxe0-aligned
}

# run_iova_and_pages: arxe1 in pages mode in the background, arxe0 in iova
# mode, each device's own.
run_iova_and_pages() {
	dev_mode arxe0 iova && dev_mode arxe1 pages || return 1
	pyverbs_start node3 arxe1 arxe1-pages
	pyverbs_run "" arxe0 arxe0-iova
}

tap_begin
t setup setup
t pyverbs-start-rxe0 pyverbs_start peer rxe0 rxe0
t pyverbs-run-aligned run_aligned
pyverbs_tests aligned
t pyverbs-run-iova-and-pages run_iova_and_pages
pyverbs_tests iova
pyverbs_tests pages arxe1-pages
t kernel-log-clean kernel_clean
tap_end
