#!/bin/bash
# Guest tests of RDMA CM and wire compatibility: two nodes on one QEMU hub
# (eth0 here, eth1 in namespace peer). First arxe0 here against a stock
# rxe0 in peer (the reference implementation of RoCEv2, UDP 4791, ICRC),
# in both directions: RC, UD and SRQ pingpong, perftest write, read, send
# and atomics, rping with data verification, ucmatose, ib_write_bw over
# RDMA CM; RDMA CM on arxe0 alone. Then arxe0 against arxe1 (rxe0 replaced)
# in both directions, all but the bandwidth runs (guest.lossy moves checked
# data between two arxe nodes, the main job measures them). Each cross-wire test checks that eth0 carried the
# payload.
#
# Needs tools/guest --nics 2.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

# ns_of DEV, ip_of DEV: where each node's device lives.
ns_of() {
	case "$1" in
	arxe0) echo "" ;;
	*) echo peer ;;
	esac
}

ip_of() {
	case "$1" in
	arxe0) echo "$A_IP" ;;
	*) echo "$P_IP" ;;
	esac
}

# verbs TOOL SDEV CDEV: ibv_TOOL_pingpong -c (received data checked)
# between SDEV (server) and CDEV.
verbs() {
	local extra=""

	[ "$1" = ud ] && extra="-s 1024"
	dev_pair 120 "$(ns_of "$2")" "$2" "$(ip_of "$2")" "$(ns_of "$3")" "$3" -g \
		"ibv_$1_pingpong -c -n 500 $extra"
}

# perftest_wire TOOL SDEV CDEV: perftest_pair between the two nodes.
perftest_wire() {
	perftest_pair "$1" "$(ns_of "$2")" "$2" "$(ip_of "$2")" "$(ns_of "$3")" "$3"
}

# atomic SDEV CDEV: ib_atomic_bw, fetch-and-add and compare-and-swap.
atomic() {
	local op

	for op in FETCH_AND_ADD CMP_AND_SWAP; do
		dev_pair 180 "$(ns_of "$1")" "$1" "$(ip_of "$1")" "$(ns_of "$2")" "$2" -x \
			"ib_atomic_bw -F -A $op -n 500" || return 1
		grep -q '^ 8 ' /tmp/client.log || fail "no 8-byte result line for $op"
	done
}

# rping_v SDEV CDEV: rping with data verification, 200 pings of 4 KiB.
rping_v() {
	local sip

	sip=$(ip_of "$1")
	pair "$(ns_of "$1")" "$(ns_of "$2")" cm 120 "rping -s -a $sip -V -S 4096 -C 200" \
		"rping -c -a $sip -V -S 4096 -C 200"
}

# ucmatose_run SDEV CDEV: 4 connections, 100 messages each.
ucmatose_run() {
	local sip

	sip=$(ip_of "$1")
	pair "$(ns_of "$1")" "$(ns_of "$2")" cm 120 "ucmatose -b $sip -c 4 -C 100" \
		"ucmatose -s $sip -c 4 -C 100"
}

# cm_write_bw SDEV CDEV: ib_write_bw connected through RDMA CM (-R).
cm_write_bw() {
	local sip bw

	sip=$(ip_of "$1")
	pair "$(ns_of "$1")" "$(ns_of "$2")" cm 180 \
		"ib_write_bw -R -F --report_gbits -s 65536 -n 300 -d $1" \
		"ib_write_bw -R -F --report_gbits -s 65536 -n 300 -d $2 $sip" || return 1
	bw=$(perftest_bw_avg /tmp/client.log 65536)
	echo "ib_write_bw -R $1<-$2: ${bw:-none} Gb/s"
	[ -n "$bw" ] || fail "no result line for 65536 bytes"
}

# both WHAT MIN_BYTES A B COMMAND...: "COMMAND... A B" (A serves B) and
# "COMMAND... B A", each a test that must carry MIN_BYTES across the wire.
both() {
	local what=$1 min=$2 a=$3 b=$4

	shift 4
	t "wire-$what-$a-serves-$b" cross_wire "$min" "$@" "$a" "$b"
	t "wire-$what-$b-serves-$a" cross_wire "$min" "$@" "$b" "$a"
}

tap_begin
t setup setup_arxe_and_rxe
t cm-rping-verified-arxe0 rping_v arxe0 arxe0
t cm-ucmatose-arxe0 ucmatose_run arxe0 arxe0
t cm-ib-write-bw-arxe0 cm_write_bw arxe0 arxe0
for peer in rxe0 arxe1; do
	[ "$peer" = arxe1 ] && t arxe1-replaces-rxe0 arxe1_replaces_rxe0
	both rc-pingpong 1638400 arxe0 "$peer" verbs rc
	both ud-pingpong 1024000 arxe0 "$peer" verbs ud
	both srq-pingpong 1638400 arxe0 "$peer" verbs srq
	both atomics 32000 arxe0 "$peer" atomic
	both rping-verified 1638400 arxe0 "$peer" rping_v
	both ucmatose 0 arxe0 "$peer" ucmatose_run
	# perftest against stock rxe; arxe against arxe moves checked data in
	# guest.lossy and is measured by the main job
	[ "$peer" = arxe1 ] && continue
	both ib-write-bw 19660800 arxe0 "$peer" perftest_wire ib_write_bw
	both ib-read-bw 19660800 arxe0 "$peer" perftest_wire ib_read_bw
	both ib-send-bw 19660800 arxe0 "$peer" perftest_wire ib_send_bw
	both cm-ib-write-bw 19660800 arxe0 "$peer" cm_write_bw
done
t kernel-log-clean kernel_clean
tap_end
