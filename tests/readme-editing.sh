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

cmds=$(readme_block "Editing the patch series" 1)
if ! grep -q '^tools/patch-tree export kernel /tmp/ktree' <<<"$cmds" ||
	! grep -q '^tools/patch-tree import kernel /tmp/ktree' <<<"$cmds"; then
	echo "README's block is not an export and import of /tmp/ktree: '$cmds'"
	exit 1
fi
# the tree goes into the test's directory, not /tmp/ktree
(cd "$work/src" && README_TIMEOUT=900 run_readme_lines) <<<"${cmds//\/tmp\/ktree/$work/ktree}"
git -C "$work/ktree" log --oneline -3
if ! diff -r "$top/kernel/patches" "$work/src/kernel/patches"; then
	echo "export and import with no edit changed the patches (above)"
	exit 1
fi
echo "the import gave back the $(grep -c . "$top/kernel/patches/series") patches unchanged"
