#!/bin/bash
# Crafted RoCEv2 packets at live QPs. Two nodes on one QEMU hub: arxe0 on
# eth0 here, a stock rxe0 on eth1 in namespace peer. For each target T
# (arxe0 in every translation mode, then rxe0 as the reference):
# - arxe-wiretarget (tests/guest/wiretarget.c) sets up QPs on T in every
#   state, MRs at odd offsets inside huge pages with canaries around them,
#   a stale rkey, and keeps a real RC flow with the other node running;
# - arxe-craft (tests/guest/craft.c), on the other node, first checks its
#   ICRC against packets T sends, then sends CRAFT_COUNT (100000) seeded
#   packets with a correct ICRC (unless the category says otherwise) at
#   those QPs, their neighbours and unknown QPNs (a quarter as many in the
#   iova and pages modes);
# - then: no kernel report, every canary byte unchanged, T still moves
#   data byte for byte (wiretarget's own check, then arxe-xfer), and T's
#   counters account for the packets: rcvd_pkts + rcvd_pkts_dropped grew by
#   what was sent to it (arxe0; stock rxe has no drop counter).
# The seed is CRAFT_SEED (default 1); the same seed gives the same stream.
# Besides the storms:
# - odd datagrams: UDP to port 4791 over IPv6 and over IPv4 with an IP
#   option, 0 to 11 bytes long: arxe0 drops and counts them (stock rxe 7.2
#   takes the kernel down with the first IPv6 one: it puts a QP pointer
#   made of the IP layer's leftovers in skb->cb);
# - isolation: arxe-isolation (tests/guest/isolation.c) has the remote
#   peer try every way out of an MR or memory window it was given (around
#   MRs at odd offsets inside huge pages, wrapping 2^64, atomics, after
#   dereg, after LOCAL_INV and SEND_WITH_INV of a window, type 1 windows)
#   against arxe0 in each translation mode, all refused with canaries
#   intact; and against stock rxe0 as the reference, which lets a window's
#   peer reach the rest of the MR under the window (mw-type2-range).
# Needs --nics 2.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

SEED=${CRAFT_SEED:-1}
COUNT=${CRAFT_COUNT:-100000}
SUMMARY=/arxe/out/results-crafted.txt

# delta BEFORE AFTER NAME: how much counter NAME grew between two
# counters_of snapshots (files).
delta() {
	local b a

	b=$(awk -v n="$3" '$1 == n { print $2 }' "$1")
	a=$(awk -v n="$3" '$1 == n { print $2 }' "$2")
	echo $((${a:-0} - ${b:-0}))
}

# wiretarget_start T TNS TIP PEER PNS PIP TARGETS: arxe-wiretarget's QPs,
# MRs and live flow on T (namespace TNS, address TIP) with PEER's node;
# returns once it wrote TARGETS, its pid in WPID.
wiretarget_start() {
	local t=$1 peer=$4 targets=$7 tg pg i

	tg=$(gid_index "$2" "$t" "$3") && pg=$(gid_index "$5" "$peer" "$6") || return 1
	rm -f "$targets" "$targets.stop"
	timeout 900 "$HELPERS/arxe-wiretarget" -t 840 "$t" "$tg" "$peer" "$pg" "$targets" \
		>/tmp/wiretarget.log 2>&1 &
	WPID=$!
	for ((i = 0; i < 120; i++)); do
		grep -qx ready /tmp/wiretarget.log && break
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.5
	done
	if ! grep -qx ready /tmp/wiretarget.log; then
		kill "$WPID" 2>/dev/null
		wait "$WPID"
		cat /tmp/wiretarget.log
		fail "arxe-wiretarget did not get ready on $t"
		return 1
	fi
	cat "$targets"
}

# storm COUNT TARGET TNS TIP TNETDEV PEER PNS PIP PNETDEV: COUNT packets
# at TARGET (namespace TNS, address TIP) from PEER's node.
storm() {
	local count=$1

	shift
	local t=$1 tns=$2 tip=$3 peer=$5 pns=$6 pip=$7 pdev=$8
	local targets=/tmp/targets-$1.txt wpid sent st=0 c

	counters_of "$t" >/tmp/before-t.txt && counters_of "$peer" >/tmp/before-p.txt || return 1
	wiretarget_start "$t" "$tns" "$tip" "$peer" "$pns" "$pip" "$targets" || return 1
	wpid=$WPID
	in_ns "$pns" timeout 600 "$HELPERS/arxe-craft" -s "$SEED" -n "$count" -t 540 \
		-c "$pdev" -S "$pip" -D "$tip" "$targets" >/tmp/craft.log 2>&1 || st=$?
	touch "$targets.stop"
	wait "$wpid" || st=$((st ? st : 100))
	echo "--- arxe-craft (exit status of the run: $st)"
	cat /tmp/craft.log
	echo "--- arxe-wiretarget"
	cat /tmp/wiretarget.log
	counters_of "$t" >/tmp/after-t.txt && counters_of "$peer" >/tmp/after-p.txt || return 1
	echo "--- counters of $t that moved"
	awk 'NR == FNR { b[$1] = $2; next } $2 != b[$1] { print $1, "+" $2 - b[$1] }' \
		/tmp/before-t.txt /tmp/after-t.txt
	sent=$(awk '/^sent [0-9]+ packets/ { print $2 }' /tmp/craft.log)
	{
		echo "== $t (seed $SEED): $(grep -m1 '^sent ' /tmp/craft.log)"
		grep -m1 '^icrc:' /tmp/craft.log
		grep -m1 '^flow: [0-9]' /tmp/wiretarget.log
		grep -m1 '^canaries:\|FAIL canary' /tmp/wiretarget.log
		for c in rcvd_pkts rcvd_pkts_dropped rcvd_icrc_errors naks_sent duplicate_request \
			out_of_seq_request; do
			grep -q "^$c " /tmp/after-t.txt &&
				echo "$c +$(delta /tmp/before-t.txt /tmp/after-t.txt "$c")"
		done
		echo "peer $peer sent_pkts +$(delta /tmp/before-p.txt /tmp/after-p.txt sent_pkts)"
	} | tee -a "$SUMMARY"
	[ "$st" -eq 0 ] || fail "the storm at $t did not end cleanly (status $st)" || return 1
	[ "${sent:-0}" -eq "$count" ] || fail "arxe-craft sent ${sent:-no} packets, not $count" || return 1
	grep -q '^after: T still transfers byte-exact' /tmp/wiretarget.log ||
		fail "no byte-exact transfer after the storm" || return 1
	accounted "$t" "$sent"
}

# accounted DEV SENT: DEV was handed every crafted packet and every packet
# its honest peer sent: rcvd_pkts + rcvd_pkts_dropped grew by SENT plus
# the peer's sent_pkts, less the spoofed-source packets the IP layer may
# drop (martian or unroutable sources) and 1% for the NICs. Only arxe
# counts its drops.
accounted() {
	local got want lost spoofed

	grep -q '^rcvd_pkts_dropped ' /tmp/after-t.txt || {
		echo "$1 counts no dropped packets (stock rxe): nothing to account"
		return 0
	}
	got=$(($(delta /tmp/before-t.txt /tmp/after-t.txt rcvd_pkts) +
		$(delta /tmp/before-t.txt /tmp/after-t.txt rcvd_pkts_dropped)))
	want=$(($2 + $(delta /tmp/before-p.txt /tmp/after-p.txt sent_pkts)))
	lost=$((want - got))
	spoofed=$(awk '$1 == "spoofed-source" { print $2; exit }' /tmp/craft.log)
	echo "handed to $1: $got packets; sent to it: $want; not accounted: $lost" \
		"(spoofed sources: ${spoofed:-0})" | tee -a "$SUMMARY"
	grep -E '^(Ip|IcmpMsg):' /proc/net/snmp
	[ "$(delta /tmp/before-t.txt /tmp/after-t.txt rcvd_pkts_dropped)" -gt 0 ] ||
		fail "rcvd_pkts_dropped did not move" || return 1
	[ "$(delta /tmp/before-t.txt /tmp/after-t.txt naks_sent)" -gt 0 ] ||
		fail "naks_sent did not move" || return 1
	if [ "$lost" -lt 0 ] || [ "$lost" -gt $((${spoofed:-0} + want / 100)) ]; then
		fail "$lost packets of $want are not accounted for (more than the spoofed ones and 1%)"
	fi
}

# read_replay: arxe-craft's read-replay probe (see craft.c, -R) at arxe0's
# idle RC QPs while wiretarget's flow runs: an RDMA READ, a zero-length
# WRITE, the READ again. arxe0 replays the READ (duplicate_request moves
# once per QP probed) without a kernel report and keeps its canaries and
# a byte-exact transfer. Stock rxe warns in rxe_mr_copy() there (a replay
# after a zero-length request copies from no MR), so rxe0 is not probed.
read_replay() {
	local targets=/tmp/targets-replay.txt st=0 qps dup seen

	xlate_set aligned || return 1
	seen=$(dmesg | wc -l)
	counters_of arxe0 >/tmp/before-t.txt || return 1
	wiretarget_start arxe0 "" "$A_IP" rxe0 peer "$P_IP" "$targets" || return 1
	in_ns peer timeout 120 "$HELPERS/arxe-craft" -R -t 100 -c eth1 -S "$P_IP" -D "$A_IP" \
		"$targets" >/tmp/craft.log 2>&1 || st=$?
	sleep 1
	touch "$targets.stop"
	wait "$WPID" || st=$((st ? st : 100))
	cat /tmp/craft.log /tmp/wiretarget.log
	counters_of arxe0 >/tmp/after-t.txt || return 1
	qps=$(grep -c '^read-replay probe: qp ' /tmp/craft.log)
	dup=$(delta /tmp/before-t.txt /tmp/after-t.txt duplicate_request)
	echo "QPs probed: $qps; duplicate_request +$dup" | tee -a "$SUMMARY"
	dmesg | tail -n +"$((seen + 1))" | dmesg_problems | grep . && fail "the probe made a kernel report" && return 1
	[ "$st" -eq 0 ] || fail "the probe or arxe-wiretarget failed (status $st)" || return 1
	[ "$qps" -ge 1 ] || fail "no QP was probed" || return 1
	[ "$dup" -ge "$qps" ] || fail "arxe0 replayed $dup READs for $qps QPs probed"
}

# storm_arxe MODE COUNT: COUNT packets at arxe0 in translation MODE.
storm_arxe() {
	xlate_set "$1" || return 1
	storm "$2" arxe0 "" "$A_IP" eth0 rxe0 peer "$P_IP" eth1
}

# odd_packets DEV NS IP NETDEV FROM_NS FROM_NETDEV: datagrams to port 4791
# of DEV (namespace NS, IPv4 address IP, on NETDEV) from the other node
# that rxe_rcv() drops before its QP lookup: 0 to 11 bytes over IPv6, to
# NETDEV's link-local address, and over IPv4 with a Record Route option.
# DEV survives and counts every one in rcvd_pkts_dropped.
odd_packets() {
	local dev=$1 ns=$2 ip=$3 net=$4 fns=$5 fnet=$6 ll before after

	ll=$(in_ns "$ns" ip -6 -o addr show dev "$net" scope link |
		awk '{ sub("/.*", "", $4); print $4; exit }')
	[ -n "$ll" ] || fail "no IPv6 link-local address on $net" || return 1
	before=$(counter "$dev" rcvd_pkts_dropped)
	in_ns "$fns" python3 - "$ll" "$fnet" "$ip" <<'EOF' || return 1
import socket
import sys

ll, dev, ip4 = sys.argv[1], sys.argv[2], sys.argv[3]
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s4.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([7, 7, 4, 0, 0, 0, 0, 0]))
for n in range(12):
    s6.sendto(bytes(n), (ll, 4791, 0, socket.if_nametoindex(dev)))
    s4.sendto(bytes(n), (ip4, 4791))
print(f"sent 12 IPv6 datagrams to {ll} and 12 IPv4 ones with an IP option to {ip4}")
EOF
	sleep 2
	after=$(counter "$dev" rcvd_pkts_dropped)
	echo "$dev rcvd_pkts_dropped $before -> $after"
	[ $((after - before)) -ge 24 ] || fail "$dev counted $((after - before)) drops, not 24"
}

# isolation_on T TAG TNS TIP P PNS PIP: arxe-isolation with T attacked by
# P; its output in /arxe/out/isolation-T-TAG.txt.
isolation_on() {
	local tg pg st=0 out=/arxe/out/isolation-$1-$2.txt

	tg=$(gid_index "$3" "$1" "$4") && pg=$(gid_index "$6" "$5" "$7") || return 1
	timeout 600 "$HELPERS/arxe-isolation" "$1" "$tg" "$5" "$pg" >"$out" 2>&1 || st=$?
	cat "$out"
	return "$st"
}

# isolation_arxe MODE: every case refused on arxe0 in MODE.
isolation_arxe() {
	xlate_set "$1" && isolation_on arxe0 "$1" "" "$A_IP" rxe0 peer "$P_IP"
}

# isolation_rxe: the reference. Stock rxe checks a window's requests
# against the MR under it, not the window: it fails mw-type2-range (and
# only that) where arxe0 passes.
isolation_rxe() {
	local other

	isolation_on rxe0 ref peer "$P_IP" arxe0 "" "$A_IP"
	other=$(grep '^FAIL' /arxe/out/isolation-rxe0-ref.txt | grep -v '^FAIL mw-type2-range/')
	[ -z "$other" ] || fail "rxe0 fails more than mw-type2-range: $other"
}

after_xfer() {
	xfer_in aligned anon 0 rxe0 "$P_IP"
}

tap_begin
[ -z "$TAP_LIST" ] && : >"$SUMMARY"
t setup setup_arxe_and_rxe
t read-replay-after-zero-length-write read_replay
t storm-arxe0-aligned storm_arxe aligned "$COUNT"
t storm-arxe0-iova storm_arxe iova $((COUNT / 4))
t storm-arxe0-pages storm_arxe pages $((COUNT / 4))
t storm-rxe0-reference storm "$COUNT" rxe0 peer "$P_IP" eth1 arxe0 "" "$A_IP" eth0
t odd-datagrams-arxe0 odd_packets arxe0 "" "$A_IP" eth0 peer eth1
for mode in aligned iova pages; do
	t "isolation-arxe0-$mode" isolation_arxe "$mode"
done
t isolation-rxe0-reference isolation_rxe
t after-storms-xfer-byte-exact after_xfer
t kernel-log-clean kernel_clean
[ -z "$TAP_LIST" ] && cat "$SUMMARY"
tap_end
