#!/bin/bash
# Guest tests of fast registration (kernel/arxe_frwr.c) by a kernel user,
# the test module tests/kmod/arxe_frwr_test.c: thousands of map, REG_MR,
# RDMA WRITE/READ with byte checks, LOCAL_INV or remote invalidate cycles.
# An aligned MR allocates its IOVA once and re-links it per cycle (the
# allocation counter stays flat); an iova MR allocates per cycle; a pages
# MR keeps rxe's table; stock rxe0 runs the same cycles as the reference
# and keeps its 512-page limit, which translated arxe MRs exceed.
#
# Needs tools/guest --nics 2 (stock rxe0 in namespace peer).
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

# frwr_run DEV PAGES CYCLES [PARAM=VALUE...]: load the test module; it
# runs at load and prints its result line to the kernel log (echoed here).
frwr_run() {
	local rc=0 seen

	seen=$(dmesg | wc -l)
	timeout 900 modprobe arxe_frwr_test dev="$1" pages="$2" cycles="$3" "${@:4}" || rc=$?
	dmesg | tail -n +"$((seen + 1))" | grep arxe_frwr_test | tee /tmp/frwr.log
	rmmod arxe_frwr_test 2>/dev/null
	if [ "$rc" -ne 0 ]; then
		# retransmissions and NAKs tell a lost ACK from a broken map
		rdma statistic show link "$1/1"
		fail "arxe_frwr_test on $1 ($2 pages, $3 cycles) failed: exit $rc"
	fi
}

# mr_count DEV: how many MRs DEV has, per rdma res.
mr_count() {
	rdma res show mr dev "$1" | grep -c '^dev '
}

# frwr_counts MODE PAGES CYCLES ALLOCS RELINKS [PARAM=VALUE...]: on arxe0
# in MODE, the cycles pass, the IOVA allocation and re-link counters grow
# by exactly ALLOCS and RELINKS (the module maps CYCLES + 1 times: its
# final key checks map the MR once more), the translation cache is used
# (when data moves), and no MR is left behind.
frwr_counts() {
	local mode=$1 pages=$2 cycles=$3 allocs=$4 relinks=$5 name
	local -A before after

	xlate_set "$mode" || return 1
	for name in xlate_iova_allocs xlate_frwr_relinks xlate_tlb_hits \
		xlate_tlb_misses xlate_mrs_"$mode" xlate_table_bytes; do
		before[$name]=$(counter arxe0 "$name")
	done
	before[mrs]=$(mr_count arxe0)
	frwr_run arxe0 "$pages" "$cycles" "${@:6}" || return 1
	for name in "${!before[@]}"; do
		if [ "$name" = mrs ]; then
			after[$name]=$(mr_count arxe0)
		else
			after[$name]=$(counter arxe0 "$name")
		fi
		echo "$name ${before[$name]} -> ${after[$name]}"
	done
	[ $((after[xlate_iova_allocs] - before[xlate_iova_allocs])) -eq "$allocs" ] ||
		fail "IOVA allocations grew by $((after[xlate_iova_allocs] - before[xlate_iova_allocs])), expected $allocs"
	[ $((after[xlate_frwr_relinks] - before[xlate_frwr_relinks])) -eq "$relinks" ] ||
		fail "FRWR re-links grew by $((after[xlate_frwr_relinks] - before[xlate_frwr_relinks])), expected $relinks"
	if [ "$mode" != pages ] && [ "${6:-}" != data=N ]; then
		[ "${after[xlate_tlb_hits]}" -gt "${before[xlate_tlb_hits]}" ] ||
			fail "the translation cache had no hits"
		[ "${after[xlate_tlb_misses]}" -gt "${before[xlate_tlb_misses]}" ] ||
			fail "the translation cache had no misses"
	fi
	for name in mrs xlate_mrs_"$mode" xlate_table_bytes; do
		[ "${after[$name]}" -eq "${before[$name]}" ] ||
			fail "$name is ${after[$name]} after the run, ${before[$name]} before"
	done
}

# long_lists_only_translated: stock rxe0 offers 512-page lists (arxe0's
# translated MRs take 4096 above).
long_lists_only_translated() {
	if ! refused frwr_run rxe0 513 1; then
		fail "rxe0 took a 513-page list"
		return 1
	fi
	grep -q 'rxe0 takes page lists of at most 512 pages' /tmp/frwr.log ||
		fail "rxe0 did not refuse for its 512-page limit"
}

tap_begin
t setup setup_arxe_and_rxe
t aligned-2000-cycles-one-iova-allocation frwr_counts aligned 16 2000 1 2001
t aligned-4096-page-lists frwr_counts aligned 4096 8 1 9
t aligned-single-page frwr_counts aligned 1 300 1 301
t aligned-registration-only frwr_counts aligned 256 1000 1 1001 data=N
t iova-allocates-per-cycle frwr_counts iova 16 500 501 0
t pages-keeps-rxe-table frwr_counts pages 16 500 0 0
t stock-rxe-same-cycles frwr_run rxe0 16 500
t stock-rxe-page-list-limit long_lists_only_translated
t kernel-log-clean kernel_clean
tap_end
