#!/bin/bash
# Guest tests of arxe's documentation as a user reads it: the man pages
# (rendered by the build into this suite's output directory, man/) are
# installed where man finds them and render without a warning, and
# arxe(7) names every module parameter arxe.ko has and every port counter
# arxe0 shows beyond stock rxe0's.
#
# Needs two NICs (tools/guest --nics 2, see setup_arxe_and_rxe). Prints TAP.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

man_dir=/usr/local/share/man

# man_renders SECTION NAME HEADING...: man SECTION NAME, installed from
# /arxe/out/man, renders without a warning, with its NAME line and every
# HEADING. Keeps the text in /tmp/NAME.SECTION.txt.
man_renders() {
	local section=$1 name=$2 text=/tmp/$2.$1.txt err=/tmp/$2.$1.err h

	shift 2
	install -D -m 0644 "/arxe/out/man/$name.$section" "$man_dir/man$section/$name.$section" ||
		return 1
	MANWIDTH=80 man --warnings "$section" "$name" >"$text" 2>"$err" ||
		fail "man $section $name failed: $(head -n 3 "$err")" || return 1
	[ ! -s "$err" ] || fail "man $section $name warns: $(head -n 3 "$err")" || return 1
	grep -Eq "^ *$name +- " "$text" || fail "man $section $name has no NAME line for $name" || return 1
	for h in "$@"; do
		grep -q "^$h\$" "$text" || fail "man $section $name has no section $h"
	done
	head -n 12 "$text"
}

man_arxe() {
	man_renders 7 arxe NAME SYNOPSIS DESCRIPTION "TRANSLATION MODES" \
		"MODULE PARAMETERS" COUNTERS "RDMA RES ATTRIBUTES" "FALLBACK WITHOUT AN IOMMU" \
		LIMITS FILES "SEE ALSO"
}

man_query_mr() {
	man_renders 3 arxedv_query_mr NAME SYNOPSIS DESCRIPTION "RETURN VALUE"
}

# Every parameter modinfo lists for arxe.ko is in arxe(7).
parameters_documented() {
	local p n=0

	[ -s /tmp/arxe.7.txt ] || fail "arxe(7) was not rendered" || return 1
	for p in $(modinfo -F parm arxe | sed 's/:.*//'); do
		n=$((n + 1))
		grep -q "$p=" /tmp/arxe.7.txt || fail "arxe(7) does not document the parameter $p"
	done
	echo "$n parameters"
	[ "$n" -gt 0 ] || fail "modinfo lists no parameters of arxe"
}

# Every port counter of arxe0 that rxe0 lacks is in arxe(7).
counters_documented() {
	local c n=0

	[ -s /tmp/arxe.7.txt ] || fail "arxe(7) was not rendered" || return 1
	setup_arxe_and_rxe >/dev/null || return 1
	counters_of arxe0 | cut -d' ' -f1 | sort >/tmp/counters.arxe0
	counters_of rxe0 | cut -d' ' -f1 | sort >/tmp/counters.rxe0
	for c in $(comm -23 /tmp/counters.arxe0 /tmp/counters.rxe0); do
		n=$((n + 1))
		grep -q "$c" /tmp/arxe.7.txt || fail "arxe(7) does not document the counter $c"
	done
	echo "$n counters of arxe0 beyond rxe0's"
	[ "$n" -gt 0 ] || fail "arxe0 shows no counter beyond rxe0's"
}

tap_begin
t man-arxe-7-renders man_arxe
t man-arxedv-query-mr-3-renders man_query_mr
t arxe-7-documents-parameters parameters_documented
t arxe-7-documents-counters counters_documented
tap_end
