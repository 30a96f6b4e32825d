#!/bin/bash
# Guest tests of arxe's MR translation (arxe_iova.c, arxe_xlate.c):
# in each mode (aligned, iova, pages) RC SEND/WRITE/READ are byte-exact
# with 4 KiB, THP and hugetlbfs 2 MiB memory at odd offsets, on arxe0 and
# against a stock rxe0 across the wire; aligned MRs report a one-entry,
# 16-byte device table at an IOVA congruent with the address modulo 2 MiB
# and huge-page memory mapped with 2 MiB IOMMU leaves; pages MRs report
# rxe's per-page table; pinned memory returns to zero at deregistration,
# and every page pinned is unpinned once its bus addresses no longer
# translate, with scattered 4 KiB pages (a run per page) and THP;
# a registration over RLIMIT_MEMLOCK fails as it does on rxe.
#
# Needs tools/guest --nics 2 and 4 GiB of memory (a 1 GiB THP MR).
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

setup() {
	setup_arxe_and_rxe || return 1
	echo 48 >/proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 40 ] || fail "cannot reserve 2 MiB huge pages"
	# Fault THP in synchronously, so a 1 GiB THP buffer is all huge pages.
	echo always >/sys/kernel/mm/transparent_hugepage/defrag
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
}

# translates BUS: what arxe0's IOMMU maps bus address BUS to ("none" if
# nothing), from /sys/kernel/debug/arxe/iova_to_phys.
translates() {
	echo "arxe0 $1" >/sys/kernel/debug/arxe/iova_to_phys || return 1
	awk '{ print $3 }' /sys/kernel/debug/arxe/iova_to_phys
}

# dv_matches MODE SIZE BACKING OFFSET: arxedv_query_mr() (printed by
# arxe-regmr) says what rdma res show mr says about the same MR.
dv_matches() {
	local dv name attr want bad=0

	xlate_set "$1" && hold_mr arxe0 "$2" "$3" "$4" || return 1
	dv=$(grep '^arxedv ' /tmp/mr-out)
	if [ -z "$dv" ]; then
		release_mr
		fail "arxe-regmr printed no arxedv line"
		return 1
	fi
	for name in dev_table_entries:dev_entries dev_table_bytes:dev_bytes \
		pinned_bytes:pinned iommu_leaves_4k:leaves_4k iommu_leaves_2m:leaves_2m \
		iommu_leaves_1g:leaves_1g hw_mtt_4k_bytes:hw_mtt_4k \
		hw_mtt_phys_bytes:hw_mtt_phys hw_mtt_iova_bytes:hw_mtt_iova \
		align_shift:align_shift iova:iova iommu_table_bytes:iommu_bytes \
		pin_bytes:pin_bytes; do
		want=$(mr_attr "${name#*:}")
		attr=$(field_of "$dv" "${name%%:*}")
		echo "${name%%:*} $attr, rdma res: $want"
		[ "$attr" = "$want" ] || bad=1
	done
	release_mr
	[ "$bad" -eq 0 ] || fail "arxedv_query_mr and rdma res show mr disagree"
}

# counted MODE TABLE_BYTES: while an MR of MODE (1 MiB, 4 KiB pages) is
# registered, arxe0's counters show one more MR of MODE and TABLE_BYTES
# more device table (and one IOVA allocation more unless pages); after
# deregistration the MR and table counts are back.
counted() {
	local mode=$1 bytes=$2 mrs0 tb0 ia0 mrs1 tb1 ia1

	xlate_set "$mode" || return 1
	mrs0=$(counter arxe0 "xlate_mrs_$mode") tb0=$(counter arxe0 xlate_table_bytes)
	ia0=$(counter arxe0 xlate_iova_allocs)
	hold_mr arxe0 1M anon 0 || return 1
	mrs1=$(counter arxe0 "xlate_mrs_$mode") tb1=$(counter arxe0 xlate_table_bytes)
	ia1=$(counter arxe0 xlate_iova_allocs)
	release_mr
	echo "xlate_mrs_$mode $mrs0 -> $mrs1 -> $(counter arxe0 "xlate_mrs_$mode")"
	echo "xlate_table_bytes $tb0 -> $tb1 -> $(counter arxe0 xlate_table_bytes)"
	echo "xlate_iova_allocs $ia0 -> $ia1"
	[ -n "$mrs0" ] && [ -n "$tb0" ] && [ -n "$ia0" ] || fail "missing counters" || return 1
	[ $((mrs1 - mrs0)) -eq 1 ] || fail "xlate_mrs_$mode did not count the MR" || return 1
	[ $((tb1 - tb0)) -eq "$bytes" ] || fail "xlate_table_bytes grew by $((tb1 - tb0)), not $bytes" || return 1
	if [ "$mode" = pages ]; then
		[ "$ia1" -eq "$ia0" ] || fail "a pages MR allocated IOVA" || return 1
	else
		[ $((ia1 - ia0)) -eq 1 ] || fail "xlate_iova_allocs grew by $((ia1 - ia0)), not 1" || return 1
	fi
	[ "$(counter arxe0 "xlate_mrs_$mode")" -eq "$mrs0" ] || fail "xlate_mrs_$mode not back" || return 1
	[ "$(counter arxe0 xlate_table_bytes)" -eq "$tb0" ] || fail "xlate_table_bytes not back"
}

# ends_unmapped BEFORE1 BEFORE2 AFTER1 AFTER2: what an MR's first and last
# bus addresses translated to while it was registered (both something)
# and after (both none).
ends_unmapped() {
	if [ "$1" = none ] || [ "$2" = none ]; then
		fail "the registered MR's bus addresses do not translate"
		return 1
	fi
	if [ "$3" != none ] || [ "$4" != none ]; then
		fail "bus addresses still translate after deregistration"
	fi
}

# dereg_unmaps MODE: while an MR of MODE is registered its first and last
# bus addresses translate; after deregistration neither does.
dereg_unmaps() {
	local iova last before1 before2 after1 after2

	xlate_set "$1" && hold_mr arxe0 4M thp 100 || return 1
	iova=$(mr_attr iova)
	last=$(printf '0x%x' $((iova + (4 << 20) - 1)))
	before1=$(translates "$iova") && before2=$(translates "$last") || return 1
	release_mr
	after1=$(translates "$iova") && after2=$(translates "$last") || return 1
	echo "$iova: $before1 -> $after1; $last: $before2 -> $after2"
	ends_unmapped "$before1" "$before2" "$after1" "$after2"
}

# release_unpins BACKING SIZE OFFSET: while an aligned MR of BACKING is
# registered the system holds one FOLL_PIN more per page of it and both
# ends of it translate; after deregistration the system holds what it
# held before and neither end translates. Scattered memory (one physically
# contiguous run per page) makes the release unlink in several batches
# (at most 1024 runs each): its pin record must hold more than 1024
# entries. THP memory has runs of 16 MiB and more. The MR's IOMMU tables
# (drv_iommu_bytes) are those its leaves lie in: for scattered memory
# every 2 MiB table its range touches, for THP (2 MiB leaves between 4 KiB
# ones at unaligned ends) the 2 MiB tables of its unaligned ends; and
# every 1 GiB table its range touches. SecPageTables' change is printed.
release_unpins() {
	local base held after iova len last pages before1 before2 after1 after2
	local end t2m t1g want got pin sec0 sec1

	xlate_set aligned || return 1
	base=$(pins_held)
	sec0=$(awk '$1 == "SecPageTables:" { print $2 }' /proc/meminfo)
	hold_mr arxe0 "$2" "$1" "$3" || return 1
	held=$(pins_held)
	sec1=$(awk '$1 == "SecPageTables:" { print $2 }' /proc/meminfo)
	iova=$(mr_attr iova)
	len=$(field_of "$MR_LINE" length)
	pages=$(((MR_ADDR + len + 4095) / 4096 - MR_ADDR / 4096))
	last=$(printf '0x%x' $((iova + len - 1)))
	end=$((iova + len))
	if [ "$1" = scattered ]; then
		t2m=$(((end - 1) / (2 << 20) - iova / (2 << 20) + 1))
	else
		t2m=$(((iova % (2 << 20) != 0) + (end % (2 << 20) != 0)))
	fi
	t1g=$(((end - 1) / (1 << 30) - iova / (1 << 30) + 1))
	want=$(((t2m + t1g) * 4096))
	got=$(mr_attr iommu_bytes)
	pin=$(mr_attr pin_bytes)
	before1=$(translates "$iova") && before2=$(translates "$last") || return 1
	release_mr
	after=$(pins_held)
	after1=$(translates "$iova") && after2=$(translates "$last") || return 1
	echo "FOLL_PIN pins held: $base -> $held -> $after ($pages pages)"
	echo "$iova: $before1 -> $after1; $last: $before2 -> $after2"
	echo "drv_iommu_bytes $got ($t2m 2 MiB and $t1g 1 GiB tables: $want); drv_pin_bytes $pin"
	echo "SecPageTables $sec0 -> $sec1 kB while registered"
	[ $((held - base)) -eq "$pages" ] || fail "the MR held $((held - base)) pins, not $pages" || return 1
	[ "$got" = "$want" ] || fail "drv_iommu_bytes is $got, not $want" || return 1
	if [ "$1" = scattered ] && ((pin <= 1024 * 8)); then
		fail "the pin record of scattered memory has $pin bytes, not more than 1024 entries"
		return 1
	fi
	[ "$after" -eq "$base" ] || fail "$((after - base)) pins outlived the MR" || return 1
	ends_unmapped "$before1" "$before2" "$after1" "$after2"
}

# abi_cases: REG_MR's driver data as an old libarxe (8 bytes) and a new one
# (xlate_len 0, 13, 104, 4096) send it, and with unknown bits set, on an
# aligned arxe0 (tests/guest/abi.c): exactly the room given is written,
# unknown bits are refused.
abi_cases() {
	xlate_set aligned && "$HELPERS/arxe-abi" arxe0
}

# one_entry_table MODE SIZE BACKING OFFSET: an MR of MODE keeps one 16-byte
# device-table entry; aligned ones sit at an IOVA congruent with their
# address modulo 2 MiB when they hold a whole 2 MiB block (else no IOMMU
# leaf of 2 MiB could map them, and they ask for no placement slack:
# congruent modulo the page).
one_entry_table() {
	local mode=$1 iova len unit=4096 m2=$((2 << 20))

	xlate_set "$mode" && hold_mr arxe0 "$2" "$3" "$4" || return 1
	if ! expect_attrs xlate "$mode" dev_entries 1 dev_bytes 16; then
		release_mr
		return 1
	fi
	iova=$(mr_attr iova)
	len=$(field_of "$MR_LINE" length)
	(((MR_ADDR + m2 - 1) / m2 * m2 + m2 <= MR_ADDR + len)) && unit=$m2
	echo "iova $iova, address $MR_ADDR, align_shift $(mr_attr align_shift), expected congruence $unit"
	if [ "$mode" = aligned ] && (((iova - MR_ADDR) % unit != 0)); then
		release_mr
		fail "iova $iova is not congruent with $MR_ADDR modulo $unit"
		return 1
	fi
	release_mr
}

pages_table() {
	xlate_set pages && hold_mr arxe0 1M anon 0 || return 1
	if ! expect_attrs xlate pages dev_entries 256 dev_bytes 4096; then
		release_mr
		return 1
	fi
	release_mr
}

# pinned_returns MODE: the process pins exactly the MR while it holds it,
# and nothing after deregistering it.
pinned_returns() {
	xlate_set "$1" && hold_mr arxe0 64M thp 0 || return 1
	if ! expect_attrs pinned $((64 << 20)); then
		release_mr
		return 1
	fi
	release_mr
	echo "VmPin: $MR_VMPIN_KB kB while registered, $MR_VMPIN_AFTER_KB kB after"
	[ "$MR_VMPIN_KB" -eq $((64 << 10)) ] || fail "VmPin was $MR_VMPIN_KB kB, not 65536" || return 1
	[ "$MR_VMPIN_AFTER_KB" -eq 0 ] || fail "VmPin is $MR_VMPIN_AFTER_KB kB after deregistration"
}

# memlock_like_rxe MODE: over RLIMIT_MEMLOCK (1 MiB, without CAP_IPC_LOCK)
# a 4 MiB registration fails on arxe0 with the errno stock rxe0 gives.
memlock_like_rxe() {
	local a r

	xlate_set "$1" || return 1
	a=$( (ulimit -l 1024 && setpriv --bounding-set -ipc_lock \
		"$HELPERS/arxe-regmr" -t 0 arxe0 4M) </dev/null 2>&1)
	r=$( (ulimit -l 1024 && setpriv --bounding-set -ipc_lock \
		"$HELPERS/arxe-regmr" -t 0 rxe0 4M) </dev/null 2>&1)
	echo "arxe0: $a"
	echo "rxe0:  $r"
	case "$r" in
	"reg_mr failed: errno="*) ;;
	*) fail "stock rxe0 did not refuse the registration" || return 1 ;;
	esac
	[ "${a%%(*}" = "${r%%(*}" ] || fail "arxe0 and rxe0 fail differently"
}

# tlb_caches BACKING MIN_RATIO: byte-exact transfers between aligned MRs in
# BACKING memory resolve mostly from the translation cache: at least
# MIN_RATIO hits per miss.
tlb_caches() {
	local h0 m0 h1 m1

	h0=$(counter arxe0 xlate_tlb_hits)
	m0=$(counter arxe0 xlate_tlb_misses)
	xfer_in aligned "$1" 0 >/dev/null || return 1
	h1=$(counter arxe0 xlate_tlb_hits)
	m1=$(counter arxe0 xlate_tlb_misses)
	echo "$1: translation cache hits $((h1 - h0)), misses $((m1 - m0))"
	[ $((m1 - m0)) -gt 0 ] || fail "no misses: the cache was not asked" || return 1
	[ $((h1 - h0)) -ge $(((m1 - m0) * $2)) ] ||
		fail "fewer than $2 hits per miss"
}

# tlb_misses ITERS: translation-cache misses of ITERS rounds of byte-exact
# transfers up to 64 KiB + 7 bytes (arxe-xfer's sizes 1, 63, 4096 and
# 65543) between two aligned MRs of scattered 4 KiB pages (one run per
# page) on arxe0.
tlb_misses() {
	local g m0

	g=$(gid_index "" arxe0 "$A_IP") || return 1
	m0=$(counter arxe0 xlate_tlb_misses)
	timeout 600 "$HELPERS/arxe-xfer" -n "$1" -m scattered -B 65543 arxe0 "$g" arxe0 "$g" >/dev/null ||
		return 1
	echo $(($(counter arxe0 xlate_tlb_misses) - m0))
}

# tlb_keeps_pages: the pages of both buffers stay in the translation
# cache together: twenty rounds miss less than four times as often as one
# (each round touches 17 pages of each buffer; a cache that cannot hold
# them misses about as often in every round, twenty times in all).
tlb_keeps_pages() {
	local one many

	xlate_set aligned || return 1
	one=$(tlb_misses 1) && many=$(tlb_misses 20) || return 1
	echo "translation-cache misses: one round $one, twenty rounds $many"
	[ "$one" -ge 34 ] || fail "one round missed $one times, fewer than the 34 pages it touched" || return 1
	[ "$many" -lt $((one * 4)) ] || fail "twenty rounds missed $many times: pages were evicted round after round"
}

tap_begin
t setup setup
t aligned-xfer-anon xfer_in aligned anon 0
t aligned-xfer-thp-odd-offset xfer_in aligned thp 4097
t aligned-xfer-huge2m-odd-offset xfer_in aligned huge2m 1048579
t aligned-xfer-wire-to-rxe0 cross_wire 15000000 xfer_in aligned thp 12345 rxe0 "$P_IP"
t iova-xfer-anon xfer_in iova anon 0
t iova-xfer-thp-odd-offset xfer_in iova thp 4097
t iova-xfer-huge2m-odd-offset xfer_in iova huge2m 1048579
t iova-xfer-wire-to-rxe0 cross_wire 15000000 xfer_in iova thp 12345 rxe0 "$P_IP"
t pages-xfer-anon xfer_in pages anon 0
t pages-xfer-thp-odd-offset xfer_in pages thp 4097
t pages-xfer-huge2m-odd-offset xfer_in pages huge2m 1048579
t pages-xfer-wire-to-rxe0 cross_wire 15000000 xfer_in pages thp 12345 rxe0 "$P_IP"
t aligned-table-one-entry-4k one_entry_table aligned 4K anon 0
t aligned-table-one-entry-1m one_entry_table aligned 1M anon 123
t aligned-table-one-entry-4m one_entry_table aligned 4M anon 123
t iova-table-one-entry-1m one_entry_table iova 1M anon 0
t pages-table-per-page-1m pages_table
t aligned-thp-64m-2m-leaves huge_leaves thp 64M 4096 512 31 0
t aligned-huge2m-64m-2m-leaves huge_leaves huge2m 64M 4096 512 31 0
t aligned-thp-1g-2m-leaves huge_leaves thp 1G 0 0 512 0
t aligned-pinned-returns-to-zero pinned_returns aligned
t iova-pinned-returns-to-zero pinned_returns iova
t aligned-arxedv-query-mr dv_matches aligned 64M thp 4096
t iova-arxedv-query-mr dv_matches iova 8M huge2m 0
t aligned-counted counted aligned 16
t iova-counted counted iova 16
t pages-counted counted pages 4096
t aligned-dereg-unmaps-iova dereg_unmaps aligned
t aligned-scattered-release-unpins release_unpins scattered 8M 0
t aligned-thp-release-unpins release_unpins thp 256M 4096
t aligned-xfer-scattered-odd-offset xfer_in aligned scattered 4097
t reg-mr-abi-old-and-new abi_cases
t iova-dereg-unmaps-iova dereg_unmaps iova
t aligned-memlock-errno-like-rxe memlock_like_rxe aligned
t pages-memlock-errno-like-rxe memlock_like_rxe pages
t tlb-hits-per-2m-leaf-thp tlb_caches thp 50
t tlb-hits-per-page-anon tlb_caches anon 2
t tlb-keeps-pages-of-two-buffers tlb_keeps_pages
t kernel-log-clean kernel_clean
tap_end
