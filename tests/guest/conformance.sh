#!/bin/bash
# arxe keeps the contract stock rxe keeps, and nothing a user does faults
# the kernel:
# - arxe-misuse (tests/guest/misuse.c) runs the same verbs misuse cases on
#   a stock rxe0 (namespace peer) and on arxe0 in each translation mode;
#   every case must end the same way (errno or completion status);
# - arxe-hostile (tests/guest/hostile.c) writes hostile WQEs into the send
#   ring of a live QP and kernel commands at user objects: each bad WQE
#   completes in error, the kernel stays clean;
# - one regression test per defect of the MR translation: ODP MRs report,
#   bus and physical addresses only for CAP_SYS_ADMIN, release unlinks
#   before it unpins, small MRs hold little IOVA space and the NIC keeps
#   working, the IOVA bound, fast-registration maps that map less than
#   their list, a translation device that goes away;
# - afterwards nothing is left pinned or counted and the module unloads.
# Needs --nics 2.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

TRACING=/sys/kernel/tracing


hostile() {
	local g

	xlate_set aligned || return 1
	g=$(gid_index "" arxe0 "$A_IP") || return 1
	timeout 600 "$HELPERS/arxe-hostile" arxe0 "$g"
}

# odp_reports: an ODP MR registers and reports mode odp with one pfn per
# page; rdma res show mr, by root and by a user, shows it (this was an oops).
odp_reports() {
	local entries

	xlate_set aligned && hold_mr arxe0 1M anon 0 -O || return 1
	if ! rdma -dd res show mr >/dev/null ||
		! setpriv --reuid=65534 --regid=65534 --clear-groups rdma -dd res show mr >/dev/null; then
		release_mr
		fail "rdma res show mr failed with an ODP MR"
		return 1
	fi
	entries=$(mr_attr dev_entries)
	echo "ODP MR of 1 MiB: xlate $(mr_attr xlate), $entries entries, $(mr_attr dev_bytes) bytes"
	if ! expect_attrs xlate odp pinned 0 || [ "$entries" != 256 ]; then
		release_mr
		fail "expected xlate odp with 256 entries, nothing pinned"
		return 1
	fi
	release_mr
}

# addresses_for_admin MODE: an MR's bus address and what derives from
# physical addresses go to CAP_SYS_ADMIN only: the REG_MR answer of a user
# (arxedv_query_mr) and the rdma res show mr a user runs omit them; root's
# show them.
addresses_for_admin() {
	local dv user root attr

	xlate_set "$1" || return 1
	MR_AS_NOBODY=1 hold_mr arxe0 2M thp 0 || return 1
	dv=$(grep '^arxedv ' /tmp/mr-out)
	user=$(setpriv --reuid=65534 --regid=65534 --clear-groups rdma -dd res show mr)
	root=$(rdma -dd res show mr)
	release_mr
	echo "user's arxedv: $dv"
	echo "user's rdma res show mr: $user"
	echo "root's rdma res show mr: $root"
	case "$dv" in
	*" iova=0x0 align_shift=0 "*"iommu_leaves_4k=0 iommu_leaves_2m=0 iommu_leaves_1g=0 "*"hw_mtt_phys_bytes=0 hw_mtt_iova_bytes=0 iommu_table_bytes=0 pin_bytes=0 "*) ;;
	*) fail "a user's REG_MR answer shows addresses" || return 1 ;;
	esac
	if echo "$user" | grep -E -q 'drv_(iova|align_shift|leaves_|hw_mtt_phys|hw_mtt_iova|iommu_bytes|pin_bytes)'; then
		fail "a user's rdma res show mr shows addresses"
		return 1
	fi
	for attr in hw_mtt_phys iommu_bytes pin_bytes; do
		echo "$root" | grep -q "drv_$attr" || fail "root's rdma res show mr lacks $attr" || return 1
	done
}

# release_unlinks_first: deregistering an aligned MR unlinks its IOMMU
# mapping (and syncs the IOTLB) before it unpins the first page, as ftrace
# shows.
release_unlinks_first() {
	local first

	mountpoint -q "$TRACING" || mount -t tracefs nodev "$TRACING" || return 1
	xlate_set aligned && hold_mr arxe0 8M anon 0 || return 1
	echo 0 >"$TRACING/tracing_on"
	echo >"$TRACING/trace"
	if ! echo 'dma_iova_unlink unpin_user_page_range_dirty_lock' >"$TRACING/set_ftrace_filter" ||
		! echo function >"$TRACING/current_tracer"; then
		release_mr
		fail "cannot trace dma_iova_unlink and unpin_user_page_range_dirty_lock"
		return 1
	fi
	echo 1 >"$TRACING/tracing_on"
	release_mr
	echo 0 >"$TRACING/tracing_on"
	grep -E 'dma_iova_unlink|unpin_user_page_range' "$TRACING/trace" | head -n 5
	first=$(grep -o -E -m 1 'dma_iova_unlink|unpin_user_page_range_dirty_lock' "$TRACING/trace")
	echo nop >"$TRACING/current_tracer"
	echo >"$TRACING/set_ftrace_filter"
	[ "$first" = dma_iova_unlink ] || fail "release called $first first, not dma_iova_unlink"
}

# small_mrs MODE: 2000 MRs of 4 KiB hold at most 8 KiB of IOVA space each
# (an MR asked for 2 MiB and more once), and while they are held the NIC
# still passes traffic and arxe0 still moves data byte for byte.
small_mrs() {
	local b0 b1 b2 g

	xlate_set "$1" || return 1
	b0=$(counter arxe0 xlate_iova_bytes)
	hold_mr arxe0 4K anon 0 -n 2000 || return 1
	b1=$(counter arxe0 xlate_iova_bytes)
	echo "xlate_iova_bytes $b0 -> $b1 for 2000 MRs of 4 KiB: $(((b1 - b0) / 2000)) bytes each"
	g=$(gid_index "" arxe0 "$A_IP")
	if [ $((b1 - b0)) -gt $((2000 * 8192)) ] || [ $((b1 - b0)) -lt $((2000 * 4096)) ] ||
		! ping -c 3 -W 2 "$P_IP" ||
		! timeout 300 "$HELPERS/arxe-xfer" arxe0 "$g" arxe0 "$g"; then
		release_mr
		fail "small MRs hold too much IOVA space, or the NIC stopped passing traffic"
		return 1
	fi
	release_mr
	b2=$(counter arxe0 xlate_iova_bytes)
	echo "after deregistration: xlate_iova_bytes $b2"
	[ "$b2" -eq "$b0" ] || fail "xlate_iova_bytes did not return to $b0"
}

# iova_bound: with iova_max_mb 1, a 4 MiB MR does not get IOVA space but
# falls back to a table of runs, counted in xlate_iova_limited.
iova_bound() {
	local l0 l1 rc=0

	xlate_set aligned || return 1
	l0=$(counter arxe0 xlate_iova_limited)
	echo 1 >/sys/module/arxe/parameters/iova_max_mb
	if hold_mr arxe0 4M anon 0; then
		expect_attrs xlate fallback || rc=1
		release_mr
	else
		rc=1
	fi
	echo 16384 >/sys/module/arxe/parameters/iova_max_mb
	l1=$(counter arxe0 xlate_iova_limited)
	echo "xlate_iova_limited $l0 -> $l1"
	if [ "$rc" -ne 0 ] || [ $((l1 - l0)) -ne 1 ]; then
		fail "the MR was not limited to a run table"
	fi
}

# frwr_edges MODE: fast-registration maps that map less than their list
# (an offset past the list, a list ending early), 100 each, then normal
# cycles; the IOVA space held returns to what it was.
frwr_edges() {
	local b0 b1 rc=0

	xlate_set "$1" || return 1
	b0=$(counter arxe0 xlate_iova_bytes)
	timeout 600 modprobe arxe_frwr_test dev=arxe0 pages=16 cycles=20 edges=1 || rc=$?
	dmesg | grep arxe_frwr_test | tail -n 3
	rmmod arxe_frwr_test 2>/dev/null
	b1=$(counter arxe0 xlate_iova_bytes)
	echo "xlate_iova_bytes $b0 -> $b1"
	[ "$rc" -eq 0 ] || fail "arxe_frwr_test edges=1 failed: exit $rc" || return 1
	[ "$b1" -eq "$b0" ] || fail "the IOVA space held changed"
}

# gauges_zero: no MR left, nothing pinned or held.
gauges_zero() {
	local c v bad=0

	for c in xlate_mrs_pages xlate_mrs_iova xlate_mrs_aligned xlate_mrs_fallback \
		xlate_table_bytes xlate_iova_bytes; do
		v=$(counter arxe0 "$c")
		echo "$c $v"
		[ "$v" = 0 ] || bad=1
	done
	[ "$bad" -eq 0 ] || fail "arxe0's gauges are not back to zero"
}

# xlate_dev_goes_away: arxe0 translating through eth1's PCI function
# (xlate_dev) is removed when that function's driver unbinds, while a
# process holds an MR mapped through it: the MR is unmapped at once (the
# kernel log says so), and the device goes once the process lets go; no
# kernel report. Takes eth1 and the peer node away: runs last.
xlate_dev_goes_away() {
	local pci i

	pci=$(basename "$(in_ns peer readlink -f /sys/class/net/eth1/device)")
	in_ns peer rdma link delete rxe0
	rdma link delete arxe0 || return 1
	echo "$pci" >/sys/module/arxe/parameters/xlate_dev
	rdma link add arxe0 type arxe netdev eth0 || return 1
	xlate_set aligned && hold_mr arxe0 2M thp 0 || return 1
	expect_attrs xlate aligned || { release_mr; return 1; }
	echo "$pci" >"/sys/bus/pci/devices/$pci/driver/unbind" || { release_mr; return 1; }
	sleep 1
	# the MR was unmapped under its holder; its release must not unmap again
	release_mr
	for ((i = 0; i < 20; i++)); do
		rdma link show arxe0/1 >/dev/null 2>&1 || break
		sleep 0.5
	done
	echo >/sys/module/arxe/parameters/xlate_dev
	dmesg | grep 'translation device' | tail -n 2
	dmesg | grep -q "translation device $pci goes away: unmapping its MRs" ||
		fail "arxe0 did not unmap its MRs" || return 1
	! rdma link show arxe0/1 2>/dev/null || fail "arxe0 outlived its translation device $pci"
}

unloads() {
	rdma link delete arxe0 2>/dev/null
	rmmod arxe || fail "rmmod arxe failed"
}

tap_begin
t setup setup_arxe_and_rxe
t misuse-rxe0 misuse_run peer rxe0 "$P_IP" rxe0
for mode in aligned iova pages; do
	t "misuse-$mode-same-as-rxe0" misuse_same_as_rxe "$mode"
done
t hostile-wqes hostile
t odp-mr-reports odp_reports
t addresses-for-admin-only addresses_for_admin aligned
t release-unlinks-before-unpin release_unlinks_first
for mode in aligned iova; do
	t "small-mrs-$mode" small_mrs "$mode"
	t "frwr-edge-maps-$mode" frwr_edges "$mode"
done
t iova-bound-falls-back iova_bound
t gauges-back-to-zero gauges_zero
t xlate-dev-goes-away xlate_dev_goes_away
t module-unloads unloads
t kernel-log-clean kernel_clean
tap_end
