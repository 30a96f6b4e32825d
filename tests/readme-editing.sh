#!/bin/bash
# README's "Editing the patch series", as written, in a copy of the source
# tree (so that the import cannot touch the checkout's own patches): the
# kernel series exported to a git tree, imported back with no edit, arxe.ko
# built in the target root and checkpatch run. The import must give back
# the same patch files and series, byte for byte.
#
#   tests/readme-editing.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"
export README=$top/README.md

work=$(mktemp -d /var/tmp/arxe-readme-editing.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$work/src" -xf -

# the tree goes into the test's directory, not /tmp/ktree
readme_run_in "Editing the patch series" 1 "$work/src" /tmp/ktree "$work/ktree" \
	'tools/patch-tree export kernel /tmp/ktree' 'tools/patch-tree import kernel /tmp/ktree'
git -C "$work/ktree" log --oneline -3
if ! diff -r "$top/kernel/patches" "$work/src/kernel/patches"; then
	echo "export and import with no edit changed the patches (above)"
	exit 1
fi
echo "the import gave back the $(grep -c . "$top/kernel/patches/series") patches unchanged"
