#!/bin/bash
# lint.readme: every command block of README.md is run by a test, so the
# manual cannot drift from what works. A test claims a block by taking it
# from README with readme_block "HEADING" N, readme_run "HEADING" N or
# readme_run_in "HEADING" N (tests/guest/lib.sh); this lists README's
# blocks the way readme_block counts them and fails on a block no test
# claims, and on a claim of a block README does not have.
# Three blocks are accounted for here instead, each with its reason.
#
#   tests/readme.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
readme=$top/README.md
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"
export README=$readme

# HEADING<TAB>N of every block, in README's order
blocks() {
	awk '
		/^#/ { h = $0; sub(/^#+ /, "", h); n = 0; inblock = 0; next }
		/^    / { if (!inblock) print h "\t" ++n; inblock = 1; next }
		{ inblock = 0 }
	' "$readme"
}

# HEADING<TAB>N of every readme_block, readme_run and readme_run_in call
# with a literal heading in the tests and tools (N defaults to 1; this
# file's own calls are not claims)
claims() {
	grep -rhoE --include='*.sh' --exclude=readme.sh 'readme_(block|run|run_in) "[^"$]+"( [0-9]+)?' \
		"$top/tests" "$top/tools" "$top/perftest-scripts" |
		sed -E 's/^readme_(block|run|run_in) "([^"]+)"( ([0-9]+))?$/\2\t\4/; s/\t$/\t1/' | sort -u
}

# exempt HEADING N COMMAND REASON: the block is COMMAND (its first line),
# accounted for by REASON
status=0
accounted=$(mktemp)
trap 'rm -f "$accounted"' EXIT
exempt() {
	local first

	first=$(readme_block "$1" "$2" | head -n 1)
	if [ "${first%%  *}" != "$3" ]; then
		echo "README's block $2 under \"$1\" is '$first', not '$3' ($4)"
		status=1
	fi
	printf '%s\t%s\n' "$1" "$2" >>"$accounted"
}

# The test command itself: CI's .ci/run must run exactly README's line.
cmd=$(readme_block "The two commands" 3)
if ! grep -qx "exec $cmd" "$top/.ci/run"; then
	echo ".ci/run does not run README's test command '$cmd'"
	status=1
fi
exempt "The two commands" 3 "tools/run-tests" "CI runs it (.ci/run, checked above)"
exempt "The two commands" 1 "perftest-scripts/run" \
	"the main job at length (47 minutes); perftest.quick runs its --quick line"
exempt "Testing arxe" 1 "tools/soak [--minutes MINUTES] [--soak-only]" \
	"the long soak, its own command; guest.soak and guest.lossy run its suites"

mapfile -t all < <(blocks)
echo "README has ${#all[@]} command blocks"
claimed=$( (claims && cat "$accounted") | sort -u)
for b in "${all[@]}"; do
	grep -qxF "$b" <<<"$claimed" && continue
	echo "no test runs README's block ${b#*$'\t'} under \"${b%$'\t'*}\": $(readme_block "${b%$'\t'*}" "${b#*$'\t'}" | head -n 1)"
	status=1
done
while IFS= read -r c; do
	printf '%s\n' "${all[@]}" | grep -qxF "$c" && continue
	echo "a test takes block ${c#*$'\t'} under \"${c%$'\t'*}\", which README does not have"
	status=1
done <<<"$claimed"
[ "$status" -eq 0 ] && echo "every block is run by a test"
exit "$status"
