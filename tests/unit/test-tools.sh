#!/bin/bash
# Host unit tests of the pure logic in tools/lib.sh (mirror derivation,
# cache keys, TAP results and test lists, boot failure diagnosis) and tests/guest/lib.sh
# (kernel log and taint checks, perftest output parsing). Prints TAP.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
data=$top/tests/unit/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"
export TAP_FILE=$tmp/results.tap
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"
unset ARXE_MIRROR

# expect WHAT GOT WANT
expect() {
	if [ "$2" != "$3" ]; then
		echo "$1: got '$2', want '$3'"
		return 1
	fi
}

# apt_dir NAME: an apt configuration directory with the given files from
# data/apt-NAME.
apt_dir() {
	local d=$tmp/apt-$1

	rm -rf "$d"
	mkdir -p "$d/sources.list.d"
	cp -r "$data/apt-$1/." "$d/"
	echo "$d"
}

mirror_deb822_skips_security() {
	expect mirror "$(apt_mirror "$(apt_dir deb822)")" "http://mirror.example/debian"
}

mirror_deb822_skips_deb_src() {
	expect mirror "$(apt_mirror "$(apt_dir deb822-src)")" "http://binary.example/debian"
}

mirror_oneline_with_options() {
	expect mirror "$(apt_mirror "$(apt_dir oneline)")" "https://one.example/debian"
}

mirror_from_environment() {
	expect mirror "$(ARXE_MIRROR=http://env.example/debian/ apt_mirror "$(apt_dir oneline)")" \
		"http://env.example/debian"
}

mirror_none_fails() {
	if apt_mirror "$(apt_dir empty)"; then
		echo "a mirror was found in an empty configuration"
		return 1
	fi
}

cache_key_is_stable() {
	local a b c

	a=$(cache_key linux-image-amd64=7.2.13-1 rdma-core=65.0-1.1)
	b=$(cache_key linux-image-amd64=7.2.13-1 rdma-core=65.0-1.1)
	c=$(cache_key linux-image-amd64=7.2.13-2 rdma-core=65.0-1.1)
	expect "same inputs" "$a" "$b" || return 1
	expect "key length" "${#a}" 16 || return 1
	if [ "$a" = "$c" ]; then
		echo "a new version gives the same key"
		return 1
	fi
}

tap_result_reports() {
	local f=$data/results.tap

	tap_result "$f" arxe0-link-active >/dev/null || return 1
	if tap_result "$f" arxe0-rc-pingpong; then
		echo "a failed test passed"
		return 1
	fi
	if tap_result "$f" arxe0; then
		echo "a prefix of a test name matched"
		return 1
	fi
	if tap_result "$f" never-ran; then
		echo "a missing test passed"
		return 1
	fi
	if tap_result "$tmp/none.tap" arxe0-link-active; then
		echo "a missing results file passed"
		return 1
	fi
}

# tap_list_names: a suite in list mode (ARXE_TAP_LIST=1, how CMake finds
# its ctest tests) names every test, those made in a loop too, and runs none.
tap_list_names() {
	local suite=$tmp/suite.sh got

	cat >"$suite" <<EOF
. "$top/tests/guest/lib.sh"
tap_begin
t first touch "$tmp/ran"
for d in a b; do
	t "loop-\$d" touch "$tmp/ran"
done
tap_end
EOF
	got=$(ARXE_TAP_LIST=1 TAP_FILE=$tmp/list.tap bash "$suite" | tr '\n' ' ')
	expect names "$got" "first loop-a loop-b " || return 1
	if [ -e "$tmp/ran" ] || [ -e "$tmp/list.tap" ]; then
		echo "list mode ran a test or wrote TAP results"
		return 1
	fi
}

boot_reasons() {
	guest_started "$data/console-ok.log" || return 1
	if guest_started "$data/console-panic.log"; then
		echo "a panicked boot counted as started"
		return 1
	fi
	case "$(boot_failure_reason "$data/console-panic.log" 0 600)" in
	"the kernel died while booting: Oops: int3"*) ;;
	*) boot_failure_reason "$data/console-panic.log" 0 600; return 1 ;;
	esac
	: >"$tmp/empty.log"
	expect timeout "$(boot_failure_reason "$tmp/empty.log" 124 30)" \
		"no sign of the guest command within 30s" &&
		expect "qemu error" "$(boot_failure_reason "$tmp/empty.log" 1 30)" \
			"QEMU exited with status 1 before the guest printed anything"
}

# The jump-label int3 race of QEMU's TCG is told from a guest's console
# (recorded from a guest.crafted run of 2026-12-02), and not from a boot
# that died of an int3 elsewhere, nor from a clean console.
int3_race() {
	local oops

	oops=$(tcg_patch_race "$data/console-int3-race.log") || {
		echo "the recorded race was not recognised"
		return 1
	}
	expect "oops line" "$oops" "Oops: int3: 0000 [#1] SMP NOPTI" || return 1
	if tcg_patch_race "$data/console-panic.log" >/dev/null ||
		tcg_patch_race "$data/console-ok.log" >/dev/null; then
		echo "an int3 elsewhere, or a clean console, counted as the race"
		return 1
	fi
}

dmesg_problems_found() {
	local n

	n=$(dmesg_problems <"$data/dmesg-warn.txt" | wc -l)
	[ "$n" -ge 5 ] || {
		echo "found $n problem lines in a log with a WARNING splat, a UBSAN and a KFENCE report and a hung task"
		return 1
	}
	dmesg_problems <"$data/dmesg-warn.txt" | grep -q 'KFENCE' || return 1
	dmesg_problems <"$data/dmesg-warn.txt" | grep -q 'blocked for more than' || return 1
	expect "clean log" "$(dmesg_problems <"$data/dmesg-clean.txt")" ""
}

taint_flags() {
	expect "untainted" "$(taint_problems 0)" "" &&
		expect "out-of-tree unsigned module" "$(taint_problems $((4096 + 8192)))" "" &&
		expect "warning" "$(taint_problems 512)" "W" &&
		expect "oops and warning" "$(taint_problems $((128 + 512 + 4096)))" "WD"
}

perftest_parse() {
	expect "write_bw" "$(perftest_bw_avg "$data/ib_write_bw.txt" 65536)" "0.38" &&
		expect "read_bw" "$(perftest_bw_avg "$data/ib_read_bw.txt" 65536)" "0.20" &&
		expect "atomic_bw" "$(perftest_bw_avg "$data/ib_atomic_bw.txt" 8)" "0.002801" &&
		expect "absent size" "$(perftest_bw_avg "$data/ib_write_bw.txt" 2)" "" &&
		expect "read_bw from the message rate" "$(perftest_bw_rate "$data/ib_read_bw.txt" 65536)" "0.2013" &&
		expect "atomic_bw from the message rate" "$(perftest_bw_rate "$data/ib_atomic_bw.txt" 8)" "0.002801" &&
		expect "absent size, message rate" "$(perftest_bw_rate "$data/ib_write_bw.txt" 2)" "" &&
		expect "write_lat t_avg" "$(perftest_lat_avg "$data/ib_write_lat.txt" 2)" "101.00" &&
		expect "absent latency size" "$(perftest_lat_avg "$data/ib_write_lat.txt" 4096)" "" &&
		perftest_plausible bw 65536 256 0.13 3.0 &&
		! perftest_plausible bw 65536 256 0.00 3.0 &&
		! perftest_plausible bw 65536 256 0.01 3.0 &&
		perftest_plausible bw 8 300 0.000229 2 &&
		perftest_plausible lat 2 200 95.7 2.5 &&
		! perftest_plausible lat 2 200 20000 2.5 &&
		! perftest_plausible lat 2 200 0 2.5 &&
		! perftest_plausible lat 2 200 "" 2.5
}

# has_line FILE LINE: FILE holds LINE exactly.
has_line() {
	grep -qxF -- "$2" "$1" || {
		echo "missing from $1: $2"
		return 1
	}
}

# The report of a recorded results folder (perftest with repetitions and a
# failed run, ib_read_bw on CQ events of a --quick run, registration costs
# and FRWR runs of a --quick run, the 100 MiB THP registrations with
# ranges): ratios with their intervals,
# "behind" only beyond the interval, translation memory on both sides.
report_tables() {
	local dir

	dir=$(mktemp -d)
	cp "$data"/results/* "$dir/"
	"$top/perftest-scripts/report" "$dir" quick >/dev/null || return 1
	has_line "$dir/report.md" "| ib_write_bw 64 KiB | 0.33 Gb/s | 0.36 (1.09, 0.50-1.67) | 0.38 (1.15, 0.95-1.27) | 0.38 (1.15, 0.95-1.27) |" &&
		has_line "$dir/report.md" "| ib_write_lat 2 B | 95.84 usec | 101 (1.05) | - (-) | - (-) |" &&
		has_line "$dir/report.md" "| registration time per GiB | 31.4 ms | 6.85 (0.22, 0.21-0.23) | 14.7 (0.47, 0.45-0.48) | 33.5 (1.07, 1.04-1.09) |" &&
		has_line "$dir/report.md" "| device table, 100 MiB MR | 409600 bytes | 16 (0.00) | 16 (0.00) | 409600 (1.00) |" &&
		has_line "$dir/report.md" "| ib_write_bw | default | 65536 | 0.33 (0.3-0.4) | 0.38 | 0.38 | 0.36 (0.2-0.5) |" &&
		has_line "$dir/report.md" "| translation memory (device + IOMMU tables), 100 MiB MR | 409600 bytes | 4112 (0.01) | 4112 (0.01) | 409600 (1.00) |" &&
		has_line "$dir/report.md" "| 104857600 | thp | 409600 + 0 = 409600 | 409600 + 0 = 409600 | 16 + 4096 = 4112 | 16 + 4096 = 4112 | 204800 + 0 = 204800 | 400 + 0 = 400 | 400 + 4096 = 4496 | 512 | 0 | 50 |" &&
		has_line "$dir/report.md" "| 104857600 | anon | 409600 + 0 = 409600 | 409600 + 0 = 409600 | 16 + 208896 = 208912 | 16 + 212992 = 213008 | 204800 + 0 = 204800 | 204800 + 0 = 204800 | 104 + 212992 = 213096 | 204800 | 8 | 0 |" &&
		has_line "$dir/report.md" "| arxe-iova | 16 | 200 | 617156 | 1620 | 1.000 |" &&
		has_line "$dir/report.md" "Worse by the median, but inside the interval of the repetitions: ib_read_lat 2 B (1.50, 0.75-1.61)." &&
		has_line "$dir/report.md" "- ib_send_lat 2 B: arxe aligned 150 (1.36, 1.25-1.50), rxe 110 usec" &&
		has_line "$dir/report.md" "- deregistration time per GiB: arxe aligned 27.5 (15.45, 14.44-15.88), rxe 1.78 ms" &&
		has_line "$dir/report.md" "| ib_read_bw 64 KiB, events | 0.58745 Gb/s | 0.5631 (0.96, 0.95-0.96) | 0.5639 (0.96, 0.96-0.96) | 0.57515 (0.98, 0.97-0.98) |" &&
		has_line "$dir/report.md" "| ib_read_bw | events | 65536 | 0.58745 (0.5856-0.5893) | 0.57515 (0.5741-0.5762) | 0.5639 (0.5631-0.5647) | 0.5631 (0.5615-0.5647) |" &&
		has_line "$dir/perftest-summary.csv" "arxe-pages,ib_write_bw,default,65536,0.38,0.38,0.38,1" || return 1
	rm -rf "$dir"
}

tap_begin
# fake_kernel DIR API CONFIG_LINE...: a kernel build tree as far as
# build-module's checks look: Makefile, .config of the CONFIG_LINEs,
# include/linux/dma-mapping.h with the two-step DMA API if API is 1.
fake_kernel() {
	local dir=$1 api=$2

	shift 2
	mkdir -p "$dir/include/linux"
	echo "all:" >"$dir/Makefile"
	printf '%s\n' "$@" >"$dir/.config"
	if [ "$api" = 1 ]; then
		echo "bool dma_iova_try_alloc(void);" >"$dir/include/linux/dma-mapping.h"
	else
		echo "void dma_map_page(void);" >"$dir/include/linux/dma-mapping.h"
	fi
}

# build_module_says WANT ARGS...: build-module ARGS fails with status 1 and
# one line on standard error, which contains WANT.
build_module_says() {
	local want=$1 err status

	shift
	err=$(cd "$tmp" && "$top/kernel/build-module" -o "$tmp/bm-out" "$@" 2>&1 >/dev/null)
	status=$?
	expect status "$status" 1 || return 1
	expect lines "$(printf '%s\n' "$err" | wc -l)" 1 || return 1
	case "$err" in
	"arxe: "*"$want"*) ;;
	*)
		echo "build-module said '$err', not '$want'"
		return 1
		;;
	esac
}

build_module_errors() {
	local k=$tmp/kernels ok=(CONFIG_INFINIBAND=m CONFIG_INFINIBAND_VIRT_DMA=y)

	fake_kernel "$k/no-api" 0 "${ok[@]}"
	fake_kernel "$k/no-ib" 1 CONFIG_NET=y
	fake_kernel "$k/ok" 1 "${ok[@]}"
	mkdir -p "$k/rxe-other"
	echo "int rxe;" >"$k/rxe-other/rxe.c"
	build_module_says "has no build tree at $k/none: install linux-headers-99.1.0-t" \
		99.1.0-t "$k/none" &&
		build_module_says "lacks the two-step DMA API" 99.1.0-t "$k/no-api" &&
		build_module_says "built without InfiniBand/RDMA" 99.1.0-t "$k/no-ib" &&
		build_module_says "rxe's sources of Linux 99.1 are missing: install linux-source-99.1" \
			99.1.0-t "$k/ok" &&
		build_module_says "holds no rxe.c" -r "$k/none" 99.1.0-t "$k/ok" &&
		build_module_says "patches/$(head -n 1 "$top/kernel/patches/series") does not apply to rxe of Linux 99.1" \
			-r "$k/rxe-other" 99.1.0-t "$k/ok" || return 1
	mkdir -p "$tmp/not-ours/keep"
	build_module_says "$tmp/not-ours exists and is not an output of build-module" \
		-o "$tmp/not-ours" -r "$k/rxe-other" 99.1.0-t "$k/ok" || return 1
	[ -d "$tmp/not-ours/keep" ] || fail "build-module removed a directory it did not make"
}

root_kver_is_the_booted_kernel() {
	local r=$tmp/fake-root

	mkdir -p "$r/boot" "$r/lib/modules/7.2.1-amd64" "$r/lib/modules/7.2.1-rt-amd64"
	touch "$r/boot/vmlinuz-7.2.1-amd64"
	expect kver "$(root_kver "$r")" 7.2.1-amd64
}

t mirror-deb822-skips-security mirror_deb822_skips_security
t mirror-deb822-skips-deb-src mirror_deb822_skips_deb_src
t mirror-oneline-with-options mirror_oneline_with_options
t mirror-from-environment mirror_from_environment
t mirror-none-fails mirror_none_fails
t cache-key-is-stable cache_key_is_stable
t tap-result-reports tap_result_reports
t tap-list-names tap_list_names
t boot-failure-reasons boot_reasons
t tcg-int3-race-recognised int3_race
t dmesg-problems-found dmesg_problems_found
t taint-flags taint_flags
t perftest-output-parsed perftest_parse
t report-tables report_tables
t build-module-errors build_module_errors
t root-kver-is-the-booted-kernel root_kver_is_the_booted_kernel
tap_end
