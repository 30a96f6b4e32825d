#!/bin/bash
# Guest tests of arxe without a translating IOMMU (tools/guest --iommu
# none): iova and aligned MRs still register, report "fallback" with a
# table of physically contiguous runs (at most rxe's entries, one per THP
# for huge-page memory), move data byte for byte, and register beyond the
# 1 GiB where rxe's per-page table fails; fast registration falls back to
# rxe's table. Then rdma-core's verbs test suite (tests/guest/pyverbs.sh)
# on arxe0 in this mode against a stock rxe0 on eth1 in namespace peer.
# Needs --mem 3G and --nics 2.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/guest/pyverbs.sh
. "$(dirname "$0")/pyverbs.sh"

setup() {
	# Fault THP in synchronously, so THP buffers are all huge pages.
	echo always >/sys/kernel/mm/transparent_hugepage/defrag
	setup_arxe_and_rxe
}

# pyverbs_fallback: the suite on arxe0 without IOMMU (its MRs fall back),
# beside rxe0's run.
pyverbs_fallback() {
	local rc=0

	xlate_set aligned && pyverbs_run "" arxe0 arxe0-fallback || rc=1
	# give the huge pages back to the 1536 MiB registrations that follow
	echo 0 >/proc/sys/vm/nr_hugepages
	return "$rc"
}

# reports_fallback MODE SIZE BACKING MAX_ENTRIES: an MR of MODE reports
# fallback, at most MAX_ENTRIES runs of 16 bytes, counts a fallback.
reports_fallback() {
	local fb0 fb1 entries bytes

	fb0=$(counter arxe0 xlate_fallbacks)
	xlate_set "$1" && hold_mr arxe0 "$2" "$3" 0 || return 1
	entries=$(mr_attr dev_entries)
	bytes=$(mr_attr dev_bytes)
	echo "$2 of $3: $entries runs, $bytes bytes of table"
	if ! expect_attrs xlate fallback ||
		[ "$entries" -lt 1 ] || [ "$entries" -gt "$4" ] ||
		[ "$bytes" -ne $((entries * 16)) ]; then
		release_mr
		fail "expected 1 to $4 runs of 16 bytes"
		return 1
	fi
	release_mr
	fb1=$(counter arxe0 xlate_fallbacks)
	echo "xlate_fallbacks $fb0 -> $fb1"
	[ $((fb1 - fb0)) -eq 1 ] || fail "xlate_fallbacks did not count the fallback"
}

# xfer_fallback MODE BACKING OFFSET [MR_SIZE]: arxe-xfer on arxe0 MRs.
xfer_fallback() {
	local g args=(-m "$2" -o "$3")

	[ -n "${4:-}" ] && args+=(-S "$4")
	xlate_set "$1" || return 1
	g=$(gid_index "" arxe0 "$A_IP") || return 1
	timeout 300 "$HELPERS/arxe-xfer" "${args[@]}" arxe0 "$g" arxe0 "$g"
}

# pages_fails_beyond_1g: rxe's per-page table of a 1536 MiB MR cannot be
# allocated (one kmalloc of 6 MiB, which warns), while the run table can.
pages_fails_beyond_1g() {
	xlate_set pages || return 1
	if ! refused hold_mr arxe0 1536M thp 0; then
		release_mr
		fail "a pages MR of 1536 MiB registered"
		return 1
	fi
	echo "pages mode refuses 1536 MiB, as rxe does"
}

# frwr_fallback: fast registration without IOMMU keeps rxe's table.
frwr_fallback() {
	local fb0 fb1 rc=0

	fb0=$(counter arxe0 xlate_fallbacks)
	xlate_set aligned || return 1
	timeout 300 modprobe arxe_frwr_test dev=arxe0 pages=16 cycles=200 || rc=$?
	dmesg | grep arxe_frwr_test | tail -n 3
	rmmod arxe_frwr_test 2>/dev/null
	[ "$rc" -eq 0 ] || fail "arxe_frwr_test failed: exit $rc"
	fb1=$(counter arxe0 xlate_fallbacks)
	echo "xlate_fallbacks $fb0 -> $fb1"
	[ $((fb1 - fb0)) -eq 1 ] || fail "the FRWR MR did not fall back"
}

tap_begin
t setup setup
t nic-without-iommu nic_setup_is e1000e none
t aligned-reports-fallback reports_fallback aligned 1M anon 256
t iova-reports-fallback reports_fallback iova 1M anon 256
t thp-64m-one-run-per-huge-page reports_fallback aligned 64M thp 33
t fallback-1536m-registers reports_fallback aligned 1536M thp 769
t aligned-fallback-xfer-anon xfer_fallback aligned anon 0
t aligned-fallback-xfer-thp-odd-offset xfer_fallback aligned thp 4097
t fallback-xfer-end-of-1536m xfer_fallback aligned thp 12345 1536M
t frwr-falls-back frwr_fallback
t misuse-rxe0 misuse_run peer rxe0 "$P_IP" rxe0
t misuse-fallback-same-as-rxe0 misuse_same_as_rxe aligned
t pyverbs-setup pyverbs_setup
t pyverbs-start-rxe0 pyverbs_start peer rxe0 rxe0
t pyverbs-run-fallback pyverbs_fallback
pyverbs_tests fallback
t kernel-log-clean kernel_clean
# last: rxe's failing kmalloc warns in the kernel log
t pages-1536m-fails-like-rxe pages_fails_beyond_1g
tap_end
