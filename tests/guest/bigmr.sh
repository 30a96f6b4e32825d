#!/bin/bash
# Guest tests of large and 1 GiB-page MRs: an aligned MR of 4 GiB of THP
# registers with a one-entry table and 2 MiB leaves and moves data byte
# for byte at its end; 1 GiB hugetlbfs pages give 1 GiB-congruent IOVAs
# and 1 GiB leaves; stock rxe refuses the same 4 GiB MR (recorded).
#
# Needs tools/guest --nics 2 --mem 8G --append "hugepagesz=1G hugepages=2".
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

setup() {
	setup_arxe_and_rxe || return 1
	echo always >/sys/kernel/mm/transparent_hugepage/defrag
}

huge1g_reserved() {
	local n

	n=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages)
	echo "1 GiB pages reserved: $n"
	[ "$n" -ge 2 ] || fail "the guest has $n 1 GiB pages, not 2"
}

# The IOVA of an MR in 1 GiB pages is congruent with its address modulo
# 1 GiB (align_shift is at least 30: it may be more by chance).
huge1g_congruent() {
	local shift

	xlate_set aligned && hold_mr arxe0 1G huge1g 8192 || return 1
	shift=$(mr_attr align_shift)
	echo "align_shift $shift"
	if ! expect_attrs dev_bytes 16 || [ "${shift:-0}" -lt 30 ]; then
		release_mr
		fail "not one 16-byte entry at a 1 GiB-congruent IOVA"
		return 1
	fi
	release_mr
}

four_gib_table() {
	xlate_set aligned && hold_mr arxe0 4G thp 0 || return 1
	if ! expect_attrs dev_entries 1 dev_bytes 16 pinned $((4 << 30)) \
		leaves_4k 0 leaves_2m 2048 leaves_1g 0; then
		release_mr
		return 1
	fi
	release_mr
	[ "$MR_VMPIN_AFTER_KB" -eq 0 ] || fail "VmPin is $MR_VMPIN_AFTER_KB kB after deregistration"
}

# rxe_refuses_4g: stock rxe0 keeps 16 bytes per 4 KiB page in one kmalloc
# and cannot register 4 GiB; record how it fails.
rxe_refuses_4g() {
	local out

	out=$(timeout 600 "$HELPERS/arxe-regmr" -m thp -t 0 rxe0 4G </dev/null 2>&1)
	echo "rxe0, 4 GiB THP MR: $out"
	dmesg | grep -A3 -e 'WARNING' | head -n 12
	case "$out" in
	"reg_mr failed: errno=12"*) ;;
	*) fail "stock rxe0 did not fail with ENOMEM" ;;
	esac
}

tap_begin
t setup setup
t huge1g-pages-reserved huge1g_reserved
t aligned-huge1g-1g-congruent huge1g_congruent
t aligned-huge1g-1g-leaf huge_leaves huge1g 1G 0 0 0 1
t aligned-xfer-huge1g-odd-offset xfer_in aligned huge1g 4097
t aligned-4g-thp-one-entry four_gib_table
t aligned-4g-thp-xfer-at-end xfer_in aligned thp 0 arxe0 "$A_IP" 4G
t kernel-log-clean kernel_clean
t rxe0-refuses-4g-mr rxe_refuses_4g
tap_end
