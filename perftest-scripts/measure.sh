#!/bin/bash
# Guest side of the measurement suite (perftest-scripts/run boots the guest
# and runs this). In one guest: a stock rxe0 (eth1, namespace peer) and
# arxe0 (eth0) in each translation mode, the same measurements on each:
#
#   perftest   loopback bandwidth (ib_write/read/send/atomic_bw) over
#              message sizes and latency (ib_write/read/send_lat), with
#              default buffers, --use_hugepages, and -q 4 --mr_per_qp;
#   events     ib_send/read_bw and ib_send/read_lat sleeping on CQ events
#              (perftest -e, buffers "events"): on the instruction counter
#              no process spins, so a figure is the guest's work per
#              message and repeats;
#   regcost    ibv_reg_mr/ibv_dereg_mr time, kernel memory and device
#              table per MR size and backing (perftest-scripts/regcost.c),
#              every provider registering the same buffer in turn;
#   frwr       fast-registration cycles of a kernel user (the test module
#              arxe_frwr_test, registration alone) per page-list length.
#
#   measure.sh quick|full [all|data|icount]
#
# The second argument picks the measurements: all (the default), data
# (perftest and frwr) or icount (events and regcost), for
# perftest-scripts/run, which measures those in a guest of its own on the
# instruction counter. Writes to /arxe/out: perftest.csv (all, data; icount
# adds its rows), frwr.csv (all, data), regcost.csv (all, icount), the raw
# output under raw/, and prints "progress DONE TOTAL WHAT" before each
# step.
set -euo pipefail
# shellcheck source=tests/guest/lib.sh
. /arxe/src/tests/guest/lib.sh

level=${1:-full}
part=${2:-all}
case "$part" in
all | data | icount) ;;
*)
	echo "measure.sh: the part to measure is all, data or icount" >&2
	exit 2
	;;
esac
out=/arxe/out
raw=$out/raw
mkdir -p "$raw"

# The providers measured, and each one's DEVICE:NAMESPACE:ADDRESS:XLATE.
providers=(rxe arxe-pages arxe-iova arxe-aligned)
declare -A provider=(
	[rxe]="rxe0:peer:$P_IP:-"
	[arxe-pages]="arxe0::$A_IP:pages"
	[arxe-iova]="arxe0::$A_IP:iova"
	[arxe-aligned]="arxe0::$A_IP:aligned"
)

if [ "$level" = quick ]; then
	reps=1
	reg_reps=5
	event_reps=2
	event_bw_sizes=(65536)
	event_lat_sizes=(2)
	bw_sizes=(65536)
	big_sizes=()
	lat_sizes=(2)
	variant_tools=()
	reg_sizes=(4K 64K 2M 100M)
	reg_backings=(anon thp)
	frwr_pages=(16)
	frwr_cycles=200
else
	reps=3
	reg_reps=7
	event_reps=3
	event_bw_sizes=(2 4096 65536 1048576)
	event_lat_sizes=(2 4096 65536)
	bw_sizes=(2 4096 65536 1048576)
	big_sizes=(8388608)
	lat_sizes=(2 4096 65536)
	variant_tools=(ib_write_bw ib_read_bw ib_send_bw)
	reg_sizes=(4K 64K 2M 100M 1G 4G)
	reg_backings=(anon thp huge2m)
	frwr_pages=(1 16 256)
	frwr_cycles=1000
fi

# The plan: one line per step, "KIND PROVIDER ARGS...". Repetitions are
# the outer loop, so that each provider's runs spread over the whole run.
plan=()
data_reps=$reps
[ "$part" != icount ] || data_reps=0
for rep in $(seq "$data_reps"); do
	for p in "${providers[@]}"; do
		for tool in ib_write_bw ib_read_bw; do
			for size in "${bw_sizes[@]}" "${big_sizes[@]}"; do
				plan+=("bw $p $tool default $size $rep")
			done
		done
		for size in "${bw_sizes[@]}"; do
			plan+=("bw $p ib_send_bw default $size $rep")
		done
		plan+=("bw $p ib_atomic_bw default 8 $rep")
		for tool in "${variant_tools[@]}"; do
			plan+=("bw $p $tool hugepages 65536 $rep" "bw $p $tool q4_mr_per_qp 65536 $rep")
		done
		for tool in ib_write_lat ib_read_lat ib_send_lat; do
			for size in "${lat_sizes[@]}"; do
				plan+=("lat $p $tool default $size $rep")
			done
		done
	done
done
if [ "$part" != data ]; then
	for rep in $(seq "$event_reps"); do
		for p in "${providers[@]}"; do
			for tool in ib_send_bw ib_read_bw; do
				for size in "${event_bw_sizes[@]}"; do
					plan+=("bw $p $tool events $size $rep")
				done
			done
			for tool in ib_send_lat ib_read_lat; do
				for size in "${event_lat_sizes[@]}"; do
					plan+=("lat $p $tool events $size $rep")
				done
			done
		done
	done
	for backing in "${reg_backings[@]}"; do
		plan+=("reg $backing")
	done
fi
for p in "${providers[@]}"; do
	if [ "$part" != icount ]; then
		for pages in "${frwr_pages[@]}"; do
			plan+=("frwr $p $pages")
		done
	fi
done

# use PROVIDER: set name, dev, ns and ip; arxe0 translates new MRs so.
use() {
	name=$1
	IFS=: read -r dev ns ip xlate <<<"${provider[$1]}"
	[ "$xlate" = - ] || xlate_set "$xlate" >/dev/null
}

# iterations SIZE: bandwidth iterations for SIZE, fewer for big messages.
iterations() {
	local n=$((64 * 1048576 / $1))

	[ "$level" = quick ] && n=$((n / 4))
	((n > 300)) && n=300
	((n < 10)) && n=10
	echo "$n"
}

# perftest KIND PROVIDER TOOL VARIANT SIZE REP: one run, one CSV line. A
# run whose figure contradicts the wall clock (see perftest_plausible in
# lib.sh) is repeated, up to three attempts, each one's output kept in the
# raw file.
perftest() {
	local kind=$1 tool=$3 variant=$4 size=$5 rep=$6 args value file iters
	local attempt t0 secs

	use "$2"
	args="-F -s $size"
	case "$kind" in
	bw) iters=$(iterations "$size") args+=" --report_gbits -n $iters" ;;
	lat) iters=200 args+=" -n $iters" ;;
	esac
	if [ "$tool" = ib_atomic_bw ]; then
		iters=300 size=8 args="-F --report_gbits -n $iters"
	fi
	case "$variant" in
	hugepages) args+=" --use_hugepages" ;;
	q4_mr_per_qp) args+=" -q 4 --mr_per_qp" iters=$((iters * 4)) ;;
	events) args+=" -e" ;;
	esac
	file=$raw/$name-$tool-$variant-$size-$rep.txt
	: >"$file"
	for attempt in 1 2 3; do
		value=
		t0=$EPOCHREALTIME
		if dev_pair 300 "$ns" "$dev" "$ip" "$ns" "$dev" -x "$tool $args" >>"$file" 2>&1; then
			if [ "$kind" = bw ]; then
				value=$(perftest_bw_rate /tmp/client.log "$size")
			else
				value=$(perftest_lat_avg /tmp/client.log "$size")
			fi
		fi
		secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
		echo "--- attempt $attempt: ${value:-no result} in a run of $secs s" >>"$file"
		[ -n "$value" ] || break
		perftest_plausible "$kind" "$size" "$iters" "$value" "$secs" && break
		echo "--- $value contradicts the wall clock; run again" >>"$file"
		value=
	done
	echo "$name,$tool,$variant,$size,$rep,${value:-}" >>"$out/perftest.csv"
}

# hugepages N: keep N 2 MiB hugetlbfs pages (perftest's --use_hugepages
# needs a few; huge2m MRs as many as their size).
hugepages() {
	echo "$1" >/proc/sys/vm/nr_hugepages
}

# regcost BACKING: registration cost of every size, each size one buffer
# that every provider registers in turn (the same pages for all).
regcost() {
	local backing=$1 max_mib p d x targets=()

	for p in "${providers[@]}"; do
		IFS=: read -r d _ _ x <<<"${provider[$p]}"
		if [ "$x" = - ]; then
			targets+=("$p=$d")
		else
			targets+=("$p=$d:$x")
		fi
	done
	if [ "$backing" = huge2m ]; then
		max_mib=${reg_sizes[-1]%[KMG]}
		case "${reg_sizes[-1]}" in
		*G) max_mib=$((max_mib * 1024)) ;;
		*K) max_mib=1 ;;
		esac
		hugepages $((max_mib / 2 + 8))
	fi
	(
		IFS=,
		"$HELPERS/arxe-regcost" -r "$reg_reps" -m "$backing" "${targets[*]}" "${reg_sizes[@]}"
	) 2>>"$raw/regcost-$backing.err" >>"$out/regcost.csv"
	hugepages 64
}

# frwr PROVIDER PAGES: fast-registration cycles, registration alone.
frwr() {
	local pages=$2 a0 a1 ns_cycle

	use "$1"
	a0=$(counter arxe0 xlate_iova_allocs)
	if modprobe arxe_frwr_test dev="$dev" pages="$pages" cycles="$frwr_cycles" data=N \
		>>"$raw/frwr.txt" 2>&1; then
		ns_cycle=$(dmesg | sed -n 's/.*arxe_frwr_test: dev .* ok, \([0-9]*\) ns per cycle/\1/p' | tail -n 1)
		rmmod arxe_frwr_test
	fi
	a1=$(counter arxe0 xlate_iova_allocs)
	[ "$dev" = arxe0 ] || a1=$a0
	# per map: one each cycle, and one more for the module's final key checks
	echo "$name,$pages,$frwr_cycles,${ns_cycle:-},$(awk -v a=$((a1 - a0)) -v c="$frwr_cycles" 'BEGIN { printf "%.3f", a / (c + 1) }')" \
		>>"$out/frwr.csv"
}

setup_arxe_and_rxe >"$raw/setup.txt" 2>&1 || { cat "$raw/setup.txt"; exit 1; }
echo always >/sys/kernel/mm/transparent_hugepage/defrag
hugepages 64
# the icount guest adds its rows to those of the data guest before it
if [ "$part" != icount ] || [ ! -s "$out/perftest.csv" ]; then
	echo "provider,tool,variant,bytes,rep,value" >"$out/perftest.csv"
fi
if [ "$part" != icount ]; then
	echo "provider,pages,cycles,ns_per_cycle,iova_allocs_per_cycle" >"$out/frwr.csv"
fi
if [ "$part" != data ]; then
	echo "provider,device,backing,bytes,reg_us,reg_us_min,reg_us_max,dereg_us,kmem_kb,table_bytes,hw_mtt_4k,hw_mtt_phys,hw_mtt_iova,leaves_4k,leaves_2m,leaves_1g,iommu_bytes,pin_bytes,secpt_kb,dereg_us_min,dereg_us_max,status" \
		>"$out/regcost.csv"
fi
{
	uname -r
	grep -m1 'model name' /proc/cpuinfo
	nproc
	grep MemTotal /proc/meminfo
} >"$out/guest.txt"

done=0
for step in "${plan[@]}"; do
	echo "progress $done ${#plan[@]} $step"
	read -r -a args <<<"$step"
	case "${args[0]}" in
	bw | lat) perftest "${args[@]}" ;;
	reg) regcost "${args[@]:1}" ;;
	frwr) frwr "${args[@]:1}" ;;
	esac
	done=$((done + 1))
done
echo "progress $done ${#plan[@]} done"
if ! kernel_clean >"$raw/kernel-log-$part.txt" 2>&1; then
	echo "warning: the kernel log shows a problem, see raw/kernel-log-$part.txt"
else
	rm "$raw/kernel-log-$part.txt"
fi
