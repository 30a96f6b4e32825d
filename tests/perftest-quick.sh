#!/bin/bash
# The measurement suite's smoke test: README's quick run,
# perftest-scripts/run --quick (two guests; the test command has set up
# already, and the results go to OUT_DIR), then its results: every run
# produced a figure, the summary table is filled, the plots exist, the
# kernel log stayed clean; and README's rebuild of the report gives the
# same report.
#
#   tests/perftest-quick.sh OUT_DIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"
export README=$top/README.md

cmd=$(readme_block "The two commands" 2)
[ "$cmd" = "perftest-scripts/run --quick" ] || {
	echo "README's quick run is '$cmd', not perftest-scripts/run --quick"
	exit 1
}
rm -rf "$out"
echo "\$ $cmd --no-setup --out $out"
(cd "$top" && $cmd --no-setup --out "$out")

bad=0
# Every data row of perftest.csv and frwr.csv has its figure.
for f in perftest.csv:6 frwr.csv:4; do
	awk -F, -v f="${f#*:}" 'NR > 1 && $f == "" { print FILENAME ": no result: " $0; bad = 1 }
		END { exit bad }' "$out/${f%:*}" || bad=1
done
if grep -v ',ok$' "$out/regcost.csv" | tail -n +2 | grep .; then
	echo "registrations failed (above)"
	bad=1
fi
rows=$(sed -n '/^## Summary/,/^## Bandwidth/p' "$out/report.md" | grep -c '^| [a-zA-Z]')
echo "summary rows: $rows"
[ "$rows" -ge 17 ] || {
	echo "the summary table has $rows rows"
	bad=1
}
if sed -n '/^## Summary/,/^## Bandwidth/p' "$out/report.md" | grep -e '| - ' -e '(-)'; then
	echo "the summary table has empty cells (above)"
	bad=1
fi
# Translation memory counts the IOMMU side: every arxe-iova and arxe-aligned
# MR lies in whole IOMMU table pages, and a 100 MiB THP aligned MR (2 MiB
# leaves only, the buffer being 2 MiB aligned) in at most two 1 GiB tables;
# the report's table shows NIC + IOMMU = total for it.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	$1 == "arxe-iova" || $1 == "arxe-aligned" {
		v = $c["iommu_bytes"]
		if (v == "" || v == 0 || v % 4096) { print "IOMMU side \"" v "\": " $0; bad = 1 }
		if ($1 == "arxe-aligned" && $3 == "thp" && $4 == 104857600 && v > 8192) {
			print "a 100 MiB THP MR in " v " bytes of IOMMU tables: " $0; bad = 1
		}
	}
	END { exit bad }' "$out/regcost.csv" || bad=1
if ! grep -E -q '^\| 104857600 \| thp \|( [0-9]+ \+ [0-9]+ = [0-9]+ \|){7}' "$out/report.md"; then
	echo "the translation-memory table has no NIC + IOMMU = total row for 100 MiB of THP"
	bad=1
fi
# measure.sh keeps raw/kernel-log-PART.txt only when the kernel log of its
# guest showed a WARNING, BUG, Oops, UBSAN or KFENCE report or a W/D taint;
# the quick run registers nothing that makes even stock rxe warn.
for log in "$out"/raw/kernel-log*.txt; do
	[ -e "$log" ] || continue
	cat "$log"
	echo "the kernel log shows a problem (above, $log)"
	bad=1
done
# Registration and perftest on CQ events were measured in their own guest,
# on the instruction counter, each provider's events runs repeated: their
# summary rows carry an interval.
if [ ! -s "$out/console-icount.log" ] || ! grep -q "instruction counter" "$out/report.md"; then
	echo "registration was not measured on the virtual clock (no console-icount.log, or the report does not say so)"
	bad=1
fi
for row in "ib_read_bw 64 KiB, events" "ib_send_bw 64 KiB, events" "ib_read_lat 2 B, events" "ib_send_lat 2 B, events"; do
	grep -E -q "^\| $row \| [0-9.]+ [a-zA-Z/]+ \|( [0-9.]+ \([0-9.]+, [0-9.]+-[0-9.]+\) \|){3}\$" "$out/report.md" || {
		echo "the summary has no row \"$row\" with an interval for each arxe mode"
		bad=1
	}
done
for png in "$out"/bw-ib_write_bw.png "$out"/reg-time-thp.png "$out"/table-bytes-thp.png; do
	[ -s "$png" ] || {
		echo "no plot $png"
		bad=1
	}
done
# README's rebuild of the report, on this results folder: the same report.
cmd=$(readme_block "The measurement suite" 1)
[[ "$cmd" == "perftest-scripts/report "* ]] || {
	echo "README's report block is '$cmd'"
	exit 1
}
cmd=${cmd/build\/results\/quick/$out}
cp "$out/report.md" "$out/report.md.run"
echo "\$ $cmd"
(cd "$top" && $cmd) >/dev/null || bad=1
if ! diff -u "$out/report.md.run" "$out/report.md"; then
	echo "README's report command gave another report (above)"
	bad=1
fi
rm -f "$out/report.md.run"
exit "$bad"
