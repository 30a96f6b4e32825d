#!/bin/bash
# The measurement suite's smoke test: perftest-scripts/run --quick (two
# guests), then its results: every run produced a figure, the summary table
# is filled, the plots exist, the kernel log stayed clean.
#
#   tests/perftest-quick.sh OUT_DIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1

rm -rf "$out"
"$top/perftest-scripts/run" --quick --no-setup --out "$out"

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
[ "$rows" -ge 12 ] || {
	echo "the summary table has $rows rows"
	bad=1
}
if sed -n '/^## Summary/,/^## Bandwidth/p' "$out/report.md" | grep -e '| - ' -e '(-)'; then
	echo "the summary table has empty cells (above)"
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
# Registration was measured in its own guest, on the instruction counter.
if [ ! -s "$out/console-reg.log" ] || ! grep -q "instruction counter" "$out/report.md"; then
	echo "registration was not measured on the virtual clock (no console-reg.log, or the report does not say so)"
	bad=1
fi
for png in "$out"/bw-ib_write_bw.png "$out"/reg-time-thp.png "$out"/table-bytes-thp.png; do
	[ -s "$png" ] || {
		echo "no plot $png"
		bad=1
	}
done
exit "$bad"
