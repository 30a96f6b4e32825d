#!/bin/bash
# A mixed workload for SOAK_SECONDS (default 60) with continuous data
# verification, on two nodes (arxe0 on eth0 here, arxe1 on eth1 in
# namespace peer) whose wire loses 1% of the packets each way (netem).
# Side by side, each a loop that runs until the time is up:
# - arxe-xfer arxe0 -> arxe1 (4 KiB pages) and arxe1 -> arxe0 (THP, at an
#   odd offset), each run a fresh QP pair: SEND, WRITE, READ of 1 B to
#   4 MiB and atomics, every byte and fetched value checked;
# - ib_write_bw over 8 QPs (16 KiB messages, perftest's default depth),
#   arxe0 -> arxe1;
# - registration churn: 100 MRs of 64 KiB registered and deregistered per
#   round, by turns in each translation mode;
# - FRWR churn: the kernel test module's map, REG_MR, WRITE/READ (checked),
#   invalidate cycles on arxe0.
# The first wrong byte or failed run stops the soak and fails it. At the
# end it prints the totals (bytes verified, operations, registrations,
# FRWR cycles, retransmissions) to /arxe/out/results-soak.txt.
# The long soak is tools/soak (10 minutes or more). Needs --nics 2.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

SECONDS_TOTAL=${SOAK_SECONDS:-60}
TOTALS=/arxe/out/results-soak.txt
W=/tmp/soak

setup_soak() {
	setup_two_nodes && modprobe arxe && modprobe sch_netem || return 1
	rdma link add arxe0 type arxe netdev eth0 &&
		in_ns peer rdma link add arxe1 type arxe netdev eth1 || return 1
	port_active "" arxe0 && port_active peer arxe1 || return 1
	tc qdisc add dev eth0 root netem loss 1% &&
		in_ns peer tc qdisc add dev eth1 root netem loss 1%
}

# worker NAME COMMAND...: run COMMAND (one bounded round) again and again
# until the soak's end; count rounds in $W/NAME.rounds, keep the last
# round's output in $W/NAME.log and the sum of its "total" lines in
# $W/NAME.totals. A failed round writes $W/NAME.failed and stops the loop.
worker() {
	local name=$1 end=$2 rounds=0

	shift 2
	while [ "$SECONDS" -lt "$end" ] && [ ! -e "$W/stop" ]; do
		if ! "$@" >"$W/$name.log" 2>&1; then
			cp "$W/$name.log" "$W/$name.failed"
			touch "$W/stop"
			break
		fi
		rounds=$((rounds + 1))
		awk '$1 == "total" { print $2, $3, $6 }' "$W/$name.log" >>"$W/$name.totals"
		echo "$rounds" >"$W/$name.rounds"
	done
}

xfer_round() {
	local a=$1 an=$2 aip=$3 b=$4 bn=$5 bip=$6 ga gb

	shift 6
	ga=$(gid_index "$an" "$a" "$aip") && gb=$(gid_index "$bn" "$b" "$bip") || return 1
	timeout 900 "$HELPERS/arxe-xfer" -T 120 "$@" "$a" "$ga" "$b" "$gb"
}

write_bw_round() {
	dev_pair 300 peer arxe1 "$P_IP" "" arxe0 -x \
		"ib_write_bw -F -q 8 -s 16384 -n 200"
}

regmr_round() {
	local mode

	for mode in aligned iova pages; do
		xlate_set "$mode" || return 1
		timeout 300 "$HELPERS/arxe-regmr" -n 100 -t 1 arxe0 64K </dev/null || return 1
		echo "total regs 100 x"
	done
}

frwr_round() {
	timeout 600 modprobe arxe_frwr_test dev=arxe0 pages=16 cycles=100 seconds=300 ||
		{ dmesg | grep arxe_frwr_test | tail -n 5; return 1; }
	rmmod arxe_frwr_test
	echo "total frwr 100 x"
}

retransmissions() {
	local sum=0 d c v

	for d in arxe0 arxe1; do
		for c in completer_retry_err rcvd_seq_err duplicate_request out_of_seq_request; do
			v=$(counter "$d" "$c")
			sum=$((sum + ${v:-0}))
		done
	done
	echo "$sum"
}

soak() {
	local end r0 r1 bytes ops regs frwr name failed=0

	rm -rf "$W" && mkdir -p "$W" || return 1
	r0=$(retransmissions)
	end=$((SECONDS + SECONDS_TOTAL))
	worker xfer-a "$end" xfer_round arxe0 "" "$A_IP" arxe1 peer "$P_IP" &
	worker xfer-b "$end" xfer_round arxe1 peer "$P_IP" arxe0 "" "$A_IP" -m thp -o 4097 &
	worker write-bw "$end" write_bw_round &
	worker regmr "$end" regmr_round &
	worker frwr "$end" frwr_round &
	wait
	r1=$(retransmissions)
	for name in xfer-a xfer-b write-bw regmr frwr; do
		echo "$name: $(cat "$W/$name.rounds" 2>/dev/null || echo 0) rounds"
		if [ -e "$W/$name.failed" ]; then
			echo "--- $name failed:"
			cat "$W/$name.failed"
			failed=1
		fi
	done
	bytes=$(cat "$W"/xfer-*.totals 2>/dev/null | awk '$1 != "atomics" { s += $2 } END { print s + 0 }')
	ops=$(cat "$W"/xfer-*.totals 2>/dev/null | awk '{ s += $3 } END { print s + 0 }')
	regs=$(awk '$1 == "regs" { s += $2 } END { print s + 0 }' "$W/regmr.totals" 2>/dev/null || echo 0)
	frwr=$(awk '$1 == "frwr" { s += $2 } END { print s + 0 }' "$W/frwr.totals" 2>/dev/null || echo 0)
	{
		echo "soak of ${SECONDS_TOTAL}s: $bytes bytes verified in $ops operations," \
			"$regs registrations, $frwr FRWR cycles, $((r1 - r0)) retransmissions"
	} | tee "$TOTALS"
	[ "$failed" -eq 0 ] || fail "a worker failed" || return 1
	if [ "$bytes" -eq 0 ] || [ "$regs" -eq 0 ] || [ "$frwr" -eq 0 ]; then
		fail "a part of the workload never completed a round"
	fi
}

tap_begin
t setup setup_soak
t soak soak
t kernel-log-clean kernel_clean
tap_end
