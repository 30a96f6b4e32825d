#!/bin/bash
# RC over a lossy wire. Four nodes on one QEMU hub: arxe0 on eth0 here,
# a stock rxe0 on eth1 (namespace peer), arxe1 on eth2 (namespace node3)
# and a stock rxe1 on eth3 (namespace node4). Every node's egress gets
# the same netem condition: none, 1% and 5% loss, reordering, duplication,
# delay with jitter (which of them run: LOSSY_CONDITIONS, below). Under
# each, arxe-xfer (tests/guest/xfer.c) runs SEND, RDMA WRITE, RDMA READ
# (messages of 1 B to 1 MiB) and atomics, checked byte for byte, between
#   arxe0 -> arxe1, arxe1 -> arxe0, arxe0 -> rxe0, rxe0 -> arxe0
# (requester -> responder) and rxe0 -> rxe1, the reference on the same
# wire; every completion within LOSSY_DEADLINE seconds. Under loss, the
# requester's retries (timer, NAK or read gap) must be counted. Each case
# prints one RESULT line (MB/s of SEND, WRITE and READ, atomics per
# second, retries); the summary table is results-lossy.txt.
#
# Each condition sets arxe-xfer's rounds (-n), its ladder's top size (-B)
# and its largest message (-M): three rounds of the ladder up to 1 MiB
# move 9.6 MiB per case. Under 5% loss every lost packet costs go-back-N
# a window, and every lost READ response costs a stock rxe responder the
# rest of its read: READs go in 256 KiB messages there. Delay with jitter
# keeps the packets in order (netem's rate, 1 Gb/s, holds each packet
# behind the one before it): netem's jitter alone reorders nearly every
# packet (4 +- 2 ms at about a packet per 0.3 ms), which is the reordering
# condition's case at its worst; go-back-N then crawls on stock rxe as on
# arxe (0.02 to 0.1 MB/s at 64 KiB messages, rxe0 -> rxe1 and arxe0 ->
# arxe1 alike). By default it runs every condition but 5% loss (about
# four minutes; 5% loss alone takes as long: tools/soak runs it);
# LOSSY_CONDITIONS="all" runs every condition (tools/soak, with
# LOSSY_SCALE=7: at least 64 MiB per case). LOSSY_SCALE (default 1)
# multiplies the rounds, LOSSY_DEADLINE (default 120) bounds each
# completion (seconds).
# Needs --nics 4.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

SCALE=${LOSSY_SCALE:-1}
DEADLINE=${LOSSY_DEADLINE:-120}
SUMMARY=/arxe/out/results-lossy.txt

# The nodes: namespace, netdev, address, device.
NODES=("" eth0 10.0.0.1 arxe0 peer eth1 10.0.0.2 rxe0 node3 eth2 10.0.0.3 arxe1
	node4 eth3 10.0.0.4 rxe1)

# node_of DEV: "NS NETDEV IP" of the node DEV is on.
node_of() {
	local i

	for ((i = 0; i < ${#NODES[@]}; i += 4)); do
		if [ "${NODES[i + 3]}" = "$1" ]; then
			echo "${NODES[i]:--} ${NODES[i + 1]} ${NODES[i + 2]}"
			return 0
		fi
	done
	return 1
}

setup_four_nodes() {
	local i k ns dev ip rdev type

	modprobe sch_netem && modprobe arxe && modprobe rdma_rxe || return 1
	for ((i = 0; i < ${#NODES[@]}; i += 4)); do
		ns=${NODES[i]} dev=${NODES[i + 1]} ip=${NODES[i + 2]} rdev=${NODES[i + 3]}
		if [ -n "$ns" ]; then
			ip netns add "$ns" && ip link set "$dev" netns "$ns" &&
				in_ns "$ns" ip link set lo up || return 1
		fi
		in_ns "$ns" ip addr add "$ip/24" dev "$dev" &&
			in_ns "$ns" ip link set "$dev" up || return 1
		type=rxe
		[ "${rdev#arxe}" != "$rdev" ] && type=arxe
		in_ns "$ns" rdma link add "$rdev" type "$type" netdev "$dev" || return 1
	done
	for ((i = 4; i < ${#NODES[@]}; i += 4)); do
		for ((k = 0; k < 15; k++)); do
			ping -c 1 -W 2 "${NODES[i + 2]}" >/dev/null && break
		done
		ping -c 1 -W 2 "${NODES[i + 2]}" || fail "${NODES[i + 2]} does not answer" || return 1
	done
	for ((i = 0; i < ${#NODES[@]}; i += 4)); do
		port_active "${NODES[i]}" "${NODES[i + 3]}" || return 1
	done
}

# netem_all ARGS...: every node's egress through "netem ARGS" ("none":
# no qdisc).
netem_all() {
	local i ns dev

	for ((i = 0; i < ${#NODES[@]}; i += 4)); do
		ns=${NODES[i]} dev=${NODES[i + 1]}
		in_ns "$ns" tc qdisc del dev "$dev" root 2>/dev/null
		if [ "$1" != none ]; then
			in_ns "$ns" tc qdisc add dev "$dev" root netem "$@" || return 1
		fi
	done
}

RETRANS_COUNTERS=(completer_retry_err rcvd_seq_err read_gap_retries duplicate_request
	out_of_seq_request read_streams_cut)

# snapshot DEV...: "DEV COUNTER VALUE" lines of the counters that tell
# retransmissions: requester retries (timer or NAK), reads retried at a
# gap, responder duplicates and gaps, read streams cut.
snapshot() {
	local d

	for d in "$@"; do
		counters_of "$d" | awk -v d="$d" -v names="${RETRANS_COUNTERS[*]}" '
			BEGIN { n = split(names, c, " ") }
			{ v[$1] = $2 }
			END { for (k = 1; k <= n; k++) print d, c[k], (c[k] in v) ? v[c[k]] : "-" }'
	done
}

# lossy_case COND XFER_ARGS REQ RESP: arxe-xfer (with XFER_ARGS, its -n
# scaled by LOSSY_SCALE) with REQ as requester, RESP as responder, under
# netem condition COND (already applied).
lossy_case() {
	local cond=$1 req=$3 resp=$4 rn pn rip pip rg pg retrans line row op st=0 args

	read -r -a args <<<"$2"
	args[1]=$((args[1] * SCALE))

	read -r rn _ rip <<<"$(node_of "$req")"
	read -r pn _ pip <<<"$(node_of "$resp")"
	[ "$rn" = - ] && rn=""
	[ "$pn" = - ] && pn=""
	rg=$(gid_index "$rn" "$req" "$rip") && pg=$(gid_index "$pn" "$resp" "$pip") || return 1
	snapshot "$req" "$resp" >/tmp/before.txt
	echo "arxe-xfer ${args[*]} under $cond"
	timeout $((DEADLINE * 20 * SCALE)) "$HELPERS/arxe-xfer" "${args[@]}" -T "$DEADLINE" \
		"$req" "$rg" "$resp" "$pg" >/tmp/xfer.log 2>&1 || st=$?
	snapshot "$req" "$resp" >/tmp/after.txt
	grep -v '^ok ' /tmp/xfer.log
	# counters that moved (stock rxe lacks some: they read as "-")
	paste -d ' ' /tmp/before.txt /tmp/after.txt |
		awk '$3 != "-" && $6 != $3 { print $1, $2, "+" $6 - $3 }'
	retrans=$(paste -d ' ' /tmp/before.txt /tmp/after.txt |
		awk '$3 != "-" && ($2 == "completer_retry_err" || $2 == "rcvd_seq_err" ||
			$2 == "read_gap_retries") { s += $6 - $3 } END { print s + 0 }')
	[ "$st" -eq 0 ] || fail "arxe-xfer $req -> $resp under $cond exited $st" || return 1
	row=$(printf '%-12s %-14s' "$cond" "$req->$resp")
	for op in send write read; do
		line=$(awk -v op="$op" '$1 == "total" && $2 == op { print $(NF - 1) }' /tmp/xfer.log)
		[ -n "$line" ] || fail "no total for $op" || return 1
		row+=$(printf ' %9s' "$line")
	done
	line=$(awk '$1 == "total" && $2 == "atomics" && $8 > 0 { printf "%.0f", $6 / $8 }' /tmp/xfer.log)
	row+=$(printf ' %9s %8s' "${line:-0}" "$retrans")
	echo "RESULT $row"
	echo "$row" >>"$SUMMARY"
	if [ "${cond#loss}" != "$cond" ] && [ "$retrans" -le 0 ]; then
		fail "no retransmission counted under $cond"
	fi
}

# The conditions: name | netem's arguments | arxe-xfer's (-n first).
CONDITIONS=(
	"none|none|-n 3 -B 1M"
	"loss1|loss 1%|-n 3 -B 1M"
	"loss5|loss 5%|-n 3 -B 1M -M 256K"
	"reorder|delay 1ms reorder 90% 50%|-n 3 -B 1M"
	"duplicate|duplicate 5%|-n 3 -B 1M"
	"delay-jitter|delay 4ms 2ms rate 1gbit|-n 3 -B 1M"
)
# Which of them run: all but loss5 unless LOSSY_CONDITIONS names them
# ("all": every one, as tools/soak).
WANTED=${LOSSY_CONDITIONS:-none loss1 reorder duplicate delay-jitter}
PAIRS=("arxe0 arxe1" "arxe1 arxe0" "arxe0 rxe0" "rxe0 arxe0" "rxe0 rxe1")

tap_begin
if [ -z "$TAP_LIST" ]; then
	printf '%-12s %-14s %9s %9s %9s %9s %8s\n' condition 'req->resp' 'send MB/s' \
		'write MB/s' 'read MB/s' 'atomics/s' 'retries' >"$SUMMARY"
fi
t setup setup_four_nodes
for c in "${CONDITIONS[@]}"; do
	IFS='|' read -r cname cargs xargs <<<"$c"
	[ "$WANTED" = all ] || [[ " $WANTED " = *" $cname "* ]] || continue
	# shellcheck disable=SC2086 # netem's arguments are words
	t "netem-$cname" netem_all $cargs
	for p in "${PAIRS[@]}"; do
		read -r req resp <<<"$p"
		t "lossy-$cname-$req-to-$resp" lossy_case "$cname" "$xargs" "$req" "$resp"
	done
done
t netem-off netem_all none
t kernel-log-clean kernel_clean
[ -z "$TAP_LIST" ] && cat "$SUMMARY"
tap_end
