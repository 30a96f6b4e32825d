#!/bin/bash
# README's "The patch series for review", as written, with the series in
# the test's own directory: tools/series emit writes a cover letter and one
# numbered patch per entry of kernel/patches/series, all by the same
# author, and tools/series check finds that every prefix of it builds in
# the target root and is clean under checkpatch --strict, and that the
# whole is the tree tools/build built arxe.ko from.
#
#   tests/series.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"
export README=$top/README.md

work=$(mktemp -d /var/tmp/arxe-series.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=$work/series

readme_run_in "The patch series for review" 1 "$top" /tmp/arxe-series "$out" \
	'tools/series emit /tmp/arxe-series' 'tools/series check /tmp/arxe-series'

n=$(grep -c . "$top/kernel/patches/series")
emitted=$(find "$out" -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | wc -l)
if [ "$emitted" -ne "$n" ]; then
	echo "emit wrote $emitted patches, kernel/patches/series lists $n"
	exit 1
fi
if ! grep -q "^Subject: \[PATCH 00/$n\] RDMA/arxe: " "$out/0000-cover-letter.patch" ||
	grep -q '\*\*\* .* HERE \*\*\*' "$out/0000-cover-letter.patch"; then
	echo "the cover letter's subject or text is not filled in:"
	sed -n '1,8p' "$out/0000-cover-letter.patch"
	exit 1
fi
# From: as git writes it, a long one folded onto a second line
authors=$(awk '/^From: / { a = substr($0, 7); getline n; if (n ~ /^ /) a = a n; print a }' \
	"$out"/*.patch | sort -u)
if [ "$(wc -l <<<"$authors")" -ne 1 ] || grep -q '@localhost' <<<"$authors"; then
	echo "the series is not from one real author: $authors"
	exit 1
fi
echo "emitted: the cover letter and $n patches, from $authors"
