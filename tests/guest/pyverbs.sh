# shellcheck shell=bash
# rdma-core's own verbs test suite (the pyverbs tests that python3-pyverbs
# installs in /usr/share/doc/rdma-core/tests, the suite upstream runs
# against rxe), run on arxe0 and on a stock rxe0 in the same guest, with
# one TAP test per test module and arxe mode. Sourced by the guest suites
# after lib.sh; they call pyverbs_setup, pyverbs_start for rxe0 (which runs
# beside the first arxe0 run: the guest has two CPUs), pyverbs_run for each
# arxe mode, then pyverbs_tests for each mode.

PYVERBS_SRC=/usr/share/doc/rdma-core/tests
PYVERBS_DIR=/tmp/rdma-core-tests
PYVERBS_OUT=/arxe/out/pyverbs

# The test modules of rdma-core 65.0 that do not need a vendor's device;
# each is a TAP test of its own per mode. A module not listed here (one a
# later rdma-core adds) is judged with the others as "unlisted". The
# vendor modules (test_mlx5_*, test_efa*: 156 tests, which need an mlx5 or
# EFA device and skip on any soft-RoCE device, stock rxe0's run included)
# are left out of the copy: skipping them took 60 to 70 s of each run's
# 190 under TCG.
PYVERBS_MODULES=(
	addr atomic buf cq cq-events cqex cuda-dmabuf device dmah flow fork mr
	odp parent-domain pd phc-timestamp qp qpex rdmacm relaxed-ordering
	rss-traffic shared-pd srq tag-matching
)

# pyverbs_setup: an unpacked copy of the suite (without the vendor
# modules), huge pages for its huge page tests, /dev/shm for the
# multiprocessing of its RDMA CM tests.
pyverbs_setup() {
	rm -rf "$PYVERBS_DIR" && mkdir -p "$PYVERBS_DIR/tests" "$PYVERBS_OUT" &&
		cp -r "$PYVERBS_SRC/." "$PYVERBS_DIR/tests/" &&
		find "$PYVERBS_DIR/tests" -name '*.gz' -exec gunzip -f {} + &&
		rm -f "$PYVERBS_DIR"/tests/test_mlx5_*.py "$PYVERBS_DIR"/tests/test_efa*.py || return 1
	mountpoint -q /dev/shm || mount -t tmpfs -o mode=1777 tmpfs /dev/shm || return 1
	echo 256 >/proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 256 ] ||
		fail "only $(cat /proc/sys/vm/nr_hugepages) of 256 huge pages"
}

# pyverbs_parse: turn unittest's verbose output (stdin) into lines
# "MODULE TEST_ID STATUS", STATUS one of ok, skip, FAIL, ERROR. A status
# may follow the test's line after other output.
pyverbs_parse() {
	awk '
		function out(st) {
			if (id == "") return
			split(id, p, ".")
			mod = p[2]; sub(/^test_/, "", mod); gsub(/_/, "-", mod)
			print mod, id, st
			id = ""
		}
		function status(s) {
			if (s ~ /^ok$/ || s ~ /^expected failure/) return "ok"
			if (s ~ /^skipped/) return "skip"
			if (s ~ /^FAIL$/ || s ~ /^unexpected success/) return "FAIL"
			if (s ~ /^ERROR$/) return "ERROR"
			return ""
		}
		match($0, /^test[^ ]* \(tests\.[^ )]*\)/) {
			out("ERROR")
			head = substr($0, RSTART, RLENGTH)
			id = head; sub(/^[^(]*\(/, "", id); sub(/\)$/, "", id)
			rest = substr($0, RSTART + RLENGTH)
			if (match(rest, / \.\.\. /) && status(substr(rest, RSTART + 5)) != "")
				out(status(substr(rest, RSTART + 5)))
			next
		}
		id != "" {
			s = $0
			if (match(s, / \.\.\. /))
				s = substr(s, RSTART + 5)
			st = status(s)
			if (st != "")
				out(st)
		}
		END { out("ERROR") }
	'
}

# pyverbs_suite NS DEV TAG: run the whole suite on DEV (in namespace NS),
# its output into PYVERBS_OUT/TAG.log (with the 20 slowest tests).
pyverbs_suite() {
	(cd "$PYVERBS_DIR" && in_ns "$1" timeout 1200 python3 tests/run_tests.py \
		--dev "$2" -v --durations 20) >"$PYVERBS_OUT/$3.log" 2>&1
}

# pyverbs_results TAG: the results of run TAG into TAG.results and its
# counts into TAG.counts. Fails if the suite did not run to its end
# (unittest's "Ran N tests").
pyverbs_results() {
	local log=$PYVERBS_OUT/$1.log

	pyverbs_parse <"$log" >"$PYVERBS_OUT/$1.results"
	awk '{ n[$3]++ } END { printf "%d tests: %d ok, %d skip, %d FAIL, %d ERROR\n",
		NR, n["ok"], n["skip"], n["FAIL"], n["ERROR"] }' "$PYVERBS_OUT/$1.results" |
		tee "$PYVERBS_OUT/$1.counts"
	grep -E '^Ran [0-9]+ test' "$log" || fail "the suite of $1 did not finish"
}

# pyverbs_start NS DEV TAG: start the suite on DEV in the background; the
# next pyverbs_run waits for it.
PYVERBS_BG=()
pyverbs_start() {
	pyverbs_suite "$@" &
	PYVERBS_BG+=("$!:$3")
	echo "started the suite on $2 ($3)"
}

# pyverbs_run NS DEV TAG: run the suite on DEV, wait for the runs started
# in the background, and collect the results of all of them.
pyverbs_run() {
	local bg rc=0

	pyverbs_suite "$@"
	echo "suite on $2 ($3): exit $?"
	pyverbs_results "$3" || rc=1
	for bg in "${PYVERBS_BG[@]}"; do
		wait "${bg%%:*}"
		echo "suite of ${bg#*:}: exit $?"
		pyverbs_results "${bg#*:}" || rc=1
	done
	PYVERBS_BG=()
	return "$rc"
}

# pyverbs_verdicts TAG REF: judge run TAG against run REF (stock rxe0)
# module by module, into TAG.verdicts: per module ("unlisted": every module
# not in PYVERBS_MODULES) a line "MODULE # counts", and a line "MODULE   WHY"
# for each test that failed or errored, or passed on rxe0 but not here.
# One pass for all modules: pyverbs_module_ok then reads its lines.
pyverbs_verdicts() {
	local results=$PYVERBS_OUT/$1.results refs=$PYVERBS_OUT/$2.results

	rm -f "$PYVERBS_OUT/$1.verdicts"
	if [ ! -s "$results" ] || [ ! -s "$refs" ]; then
		fail "no results of $1 or $2"
		return 1
	fi
	awk -v known="${PYVERBS_MODULES[*]}" '
		BEGIN { n = split(known, k, " "); for (i = 1; i <= n; i++) listed[k[i]] = 1 }
		function mod(m) { return m in listed ? m : "unlisted" }
		FNR == NR { if ($3 == "ok") refok[$2] = mod($1); next }
		{
			m = mod($1)
			seen[$2] = 1
			counts[m, $3]++
			if ($3 == "FAIL" || $3 == "ERROR") print m, "  " $3 ": " $2
			else if ($2 in refok && $3 != "ok") print m, "  passes on rxe0, " $3 " here: " $2
		}
		END {
			for (t in refok) if (!(t in seen)) print refok[t], "  passes on rxe0, missing here: " t
			for (i = 1; i <= n + 1; i++) {
				m = i <= n ? k[i] : "unlisted"
				printf "%s # %s: %d ok, %d skip, %d FAIL, %d ERROR\n", m, m,
					counts[m, "ok"], counts[m, "skip"], counts[m, "FAIL"], counts[m, "ERROR"]
			}
		}' "$refs" "$results" >"$PYVERBS_OUT/$1.verdicts"
}

# pyverbs_module_ok TAG MODULE: in run TAG, MODULE has no failure and no
# error, and every test of it that passed on rxe0 passed (its lines of
# TAG.verdicts, see pyverbs_verdicts).
pyverbs_module_ok() {
	local m line bad=0

	[ -f "$PYVERBS_OUT/$1.verdicts" ] || fail "$1 was not judged against rxe0" || return 1
	while read -r m line; do
		[ "$m" = "$2" ] || continue
		echo "$line"
		[ "${line:0:1}" = "#" ] || bad=1
	done <"$PYVERBS_OUT/$1.verdicts"
	[ "$bad" -eq 0 ]
}

# pyverbs_passes_as_rxe TAG REF: run TAG passed at least as many tests as
# REF and failed none.
pyverbs_passes_as_rxe() {
	local ok ref bad

	ok=$(awk '$3 == "ok"' "$PYVERBS_OUT/$1.results" | wc -l)
	ref=$(awk '$3 == "ok"' "$PYVERBS_OUT/$2.results" | wc -l)
	bad=$(awk '$3 == "FAIL" || $3 == "ERROR"' "$PYVERBS_OUT/$1.results" | wc -l)
	echo "$1: $(cat "$PYVERBS_OUT/$1.counts")"
	echo "$2: $(cat "$PYVERBS_OUT/$2.counts")"
	[ "$bad" -eq 0 ] || fail "$bad tests failed on $1"
	[ "$ok" -ge "$ref" ] || fail "$ok tests passed on $1, $ref on $2"
}

# pyverbs_tests MODE [TAG]: the TAP tests of run TAG (default arxe0-MODE,
# an arxe device's run in MODE) against rxe0's.
pyverbs_tests() {
	local mode=$1 tag=${2:-arxe0-$1} m

	[ -n "$TAP_LIST" ] || pyverbs_verdicts "$tag" rxe0
	for m in "${PYVERBS_MODULES[@]}" unlisted; do
		t "pyverbs-$mode-$m" pyverbs_module_ok "$tag" "$m"
	done
	t "pyverbs-$mode-passes-as-rxe0" pyverbs_passes_as_rxe "$tag" rxe0
}
