#!/bin/bash
# Lifecycle events under load. Two nodes on one QEMU hub: arxe0 on eth0
# here, a stock rxe0 on eth1 in namespace peer. Every process of the loads
# runs in this namespace (devices are shared between namespaces; perftest
# exchanges its QP numbers over 127.0.0.1), so that nothing but the peer's
# netdev lives in namespace peer. The loads:
# - arxe-xfer (tests/guest/xfer.c) between arxe0 and the peer's device
#   across the wire, round after round until its deadline: RC SEND, RDMA
#   WRITE, RDMA READ of 1 B to 4 MiB and atomics, every byte checked (a
#   wrong byte prints a FAIL line: the test fails whatever the event);
# - ib_write_bw for BW_SECS, its client on the peer's device writing into
#   its server's MR on arxe0;
# - from the NFS test on, a writer that writes a file again and again with
#   O_DIRECT through an NFS over RDMA mount on arxe0 (nfsd and the client
#   on this node, loopback over arxe0 as in kusers.sh) and compares the
#   server's copy with the source after each pass. The mount is hard (the
#   default): while arxe0 is cut off, the pass in flight waits (the client
#   disconnects and retries); once arxe0 is back, the client reconnects
#   and the pass must complete with identical data. Across rdma link
#   delete and module unload a pass may instead fail with EINVAL when,
#   and only when, the kernel's trace shows the cause that stock rxe
#   shares (an RPC reconnect that meets the device's removal ends with
#   EINVAL, and sunrpc ends the RPC with it: README, Known defects);
#   after them one more write must be identical.
# Each event is a test of its own, followed by a test that arxe is usable
# again. Events: kill -9 of arxe-xfer and perftest mid-transfer; eth0
# down and up (before the NFS mount: see netdev_down_up); an MTU
# change of eth0 (1500 -> 1100 -> 1500: arxe0's port MTU goes to 512 and
# back); deleting the peer's network namespace (with
# arxe1 on eth1 in it: eth1 returns here and arxe1 goes away); rdma link
# delete arxe0; modprobe -r arxe. Each event must end within a bound, the
# loads must end within a bound (with an error or not: either is printed),
# what went away is put back (the link, the module, the peer's namespace
# with rxe0, the MTU, the link state) and the NFS writer's pass in flight
# (or the write after a device removal) must then complete with identical
# data. Afterwards: no user verbs object
# left on any device, the pages pinned in the system (FOLL_PIN, which
# arxe's and the RDMA core's long-term pins count in) back to their count
# before the first load, and a byte-exact
# arxe-xfer between arxe0 and rxe0. At the end arxe0's gauges are zero
# and the module unloads.
#
# Needs tools/guest --nics 2 --mem 3G.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

W=/tmp/lifecycle        # the current test's loads: logs, stop file
LOAD_SECS=14            # arxe-xfer's deadline
BW_SECS=10              # ib_write_bw's duration (-D)
NFS_MNT=/mnt/nfs
NFS_SRC=/tmp/lifecycle-nfs-src
NFS_MIB=8               # one pass of the NFS writer
GAUGES="xlate_mrs_pages xlate_mrs_iova xlate_mrs_aligned xlate_mrs_fallback xlate_table_bytes xlate_iova_bytes"

LOAD_NAMES=()
LOAD_PIDS=()
LOAD_SEQ=0
NFS_PID=""
NFS_FILE=""
PINS0=0
T0=0

# clock_start, say MESSAGE: MESSAGE with the seconds since clock_start.
clock_start() {
	T0=${EPOCHREALTIME//[.,]/}
}

say() {
	local us=$((${EPOCHREALTIME//[.,]/} - T0))

	printf '[%3d.%ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*"
}

# running PID: PID has not exited (a zombie has).
running() {
	local stat

	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# await PID SECONDS: wait at most SECONDS for PID to exit; fails if it
# still runs.
await() {
	local i

	for ((i = 0; i < $2 * 2; i++)); do
		running "$1" || return 0
		sleep 0.5
	done
	! running "$1"
}

# wait_until SECONDS COMMAND...: run COMMAND every half second until it
# passes; fails if it still fails after SECONDS.
wait_until() {
	local i n=$(($1 * 2))

	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	"$@" >/dev/null 2>&1
}

# bounded SECONDS COMMAND...: COMMAND's exit status, or 124 when it still
# runs after SECONDS: it is killed then (one stuck in the kernel stays).
bounded() {
	local secs=$1 pid st=0

	shift
	"$@" &
	pid=$!
	if ! await "$pid" "$secs"; then
		say "$* still runs after $secs s: killing it"
		kill -KILL "$pid" 2>/dev/null
		await "$pid" 5 || say "$1 is stuck in the kernel"
		return 124
	fi
	wait "$pid" || st=$?
	return "$st"
}

# gauges DEV: DEV's gauges, "name=value ..."; passes when all are zero.
gauges() {
	counters_of "$1" | awk -v names="$GAUGES" '
		{ v[$1] = $2 }
		END {
			n = split(names, want, " ")
			for (k = 1; k <= n; k++) {
				val = (want[k] in v) ? v[want[k]] : "none"
				printf "%s%s=%s", (k > 1 ? " " : ""), want[k], val
				if (val != "0")
					bad = 1
			}
			print ""
			exit bad
		}'
}

# zero_gauges: what gauges prints when every gauge is zero.
zero_gauges() {
	local g out=""

	for g in $GAUGES; do
		out+="${out:+ }$g=0"
	done
	echo "$out"
}

# user_objects: the verbs objects that user processes hold on any device
# (the lines of rdma res show that name a pid).
user_objects() {
	local r

	for r in qp cq mr pd; do
		rdma res show "$r" 2>/dev/null | grep -E ' pid [0-9]+' | sed "s/^/$r: /"
	done
}

# loads_released: no user verbs object left, and as many pages pinned as
# before the first load.
loads_released() {
	[ -z "$(user_objects)" ] && [ "$(pins_held)" -eq "$PINS0" ]
}

# released_to GAUGES: loads_released, and arxe0's gauges read GAUGES.
released_to() {
	[ "$(gauges arxe0)" = "$1" ] && loads_released
}

# print_released: what released_to looks at, for the log.
print_released() {
	echo "arxe0 gauges: $(gauges arxe0)"
	echo "pages pinned: $(pins_held) (before the first load: $PINS0)"
	echo "user verbs objects:"
	user_objects | sed 's/^/  /'
}

active_mtu_is() {
	[ "$(ibv_devinfo -d "$1" | awk '$1 == "active_mtu:" { print $2; exit }')" = "$2" ]
}

port_state_is() {
	rdma link show "$1/1" | grep -q "state $2 "
}

# gone DEV: DEV is unregistered (its sysfs directory goes last).
gone() {
	[ ! -e "/sys/class/infiniband/$1" ]
}

refcnt_zero() {
	[ "$(cat /sys/module/arxe/refcnt 2>/dev/null)" = 0 ]
}

nfs_mounted() {
	grep -q " $NFS_MNT nfs" /proc/mounts
}

# nfs_passes STOP SRC FILE COPY: write SRC to FILE (on the NFS mount) with
# O_DIRECT again and again until STOP exists (at most 200 passes); after
# each pass compare COPY (the server's file) with SRC. One line per pass.
# Runs in a bash of its own (see loads_start).
nfs_passes() {
	local stop=$1 src=$2 file=$3 copy=$4 i st t

	for ((i = 1; i <= 200; i++)); do
		[ -e "$stop" ] && return 0
		st=0
		t=${EPOCHREALTIME//[.,]/}
		dd if="$src" of="$file" bs=1M oflag=direct status=none || st=$?
		t=$(((${EPOCHREALTIME//[.,]/} - t) / 1000))
		if [ "$st" -ne 0 ]; then
			echo "pass $i: FAILED: dd exit $st after $t ms"
		elif cmp -s "$src" "$copy"; then
			echo "pass $i: ok, $t ms, identical on the server"
		else
			echo "pass $i: MISMATCH after $t ms: the server's copy differs from the source"
		fi
	done
}

# loads_start PEER PEER_IP [nfs]: start the loads between arxe0 and PEER
# (its node at PEER_IP) and, with "nfs", the NFS writer; return once each
# has moved data (arxe-xfer verified an operation, ib_write_bw started its
# run, the NFS writer completed a pass).
loads_start() {
	local peer=$1 pip=$2 nfs=${3:-} ga gb port i bw

	rm -rf "$W" && mkdir -p "$W" || return 1
	LOAD_NAMES=() LOAD_PIDS=()
	ga=$(gid_index "" arxe0 "$A_IP") && gb=$(gid_index "" "$peer" "$pip") || return 1
	if [ "$nfs" = nfs ] && ! nfs_mounted; then
		fail "$NFS_MNT is not mounted (see nfs-over-arxe0)"
		return 1
	fi
	LOAD_SEQ=$((LOAD_SEQ + 1))
	port=$((PORT + LOAD_SEQ))
	bw="-F --report_gbits -s 65536 -D $BW_SECS -p $port"
	# timeout leads a process group of its own: kill -- -PID takes the
	# load and its wrapper. stdbuf: the logs show progress as it happens.
	timeout "$LOAD_SECS" stdbuf -oL "$HELPERS/arxe-xfer" -n 1000 -T 15 \
		arxe0 "$ga" "$peer" "$gb" >"$W/xfer.log" 2>&1 &
	LOAD_NAMES+=(xfer) LOAD_PIDS+=("$!")
	# shellcheck disable=SC2086 # bw holds options
	timeout $((BW_SECS + 35)) stdbuf -oL ib_write_bw -d arxe0 -x "$ga" $bw \
		>"$W/bw-server.log" 2>&1 &
	LOAD_NAMES+=(bw-server) LOAD_PIDS+=("$!")
	wait_listen "" "$port" || return 1
	# shellcheck disable=SC2086
	timeout $((BW_SECS + 30)) stdbuf -oL ib_write_bw -d "$peer" -x "$gb" $bw 127.0.0.1 \
		>"$W/bw-client.log" 2>&1 &
	LOAD_NAMES+=(bw-client) LOAD_PIDS+=("$!")
	if [ "$nfs" = nfs ]; then
		echo >/sys/kernel/tracing/trace
		NFS_FILE=load-$LOAD_SEQ
		timeout -s KILL 900 bash -c "$(declare -f nfs_passes); nfs_passes \"\$@\"" nfs-writer \
			"$W/stop" "$NFS_SRC" "$NFS_MNT/$NFS_FILE" "/srv/nfs/$NFS_FILE" >"$W/nfs.log" 2>&1 &
		NFS_PID=$!
	fi
	for ((i = 0; i < 120; i++)); do
		grep -q '^ok ' "$W/xfer.log" && grep -q '#bytes' "$W/bw-client.log" &&
			{ [ -z "$NFS_PID" ] || grep -q '^pass 1: ok' "$W/nfs.log"; } && break
		running "${LOAD_PIDS[0]}" || i=119
		sleep 0.5
	done
	if [ "$i" -ge 120 ]; then
		tail -n 5 "$W"/*.log
		fail "the loads did not all move data within 60 s (or arxe-xfer ended)"
		return 1
	fi
	say "loads running: arxe-xfer arxe0<->$peer, ib_write_bw $peer->arxe0 (port $port)${NFS_PID:+, NFS writer}"
}

# meaning STATUS: what a load's exit status says.
meaning() {
	case "$1" in
	0) echo "ran to its end" ;;
	124) echo "still moving data at its deadline" ;;
	137) echo "killed" ;;
	*) echo "failed" ;;
	esac
}

# finish NAME PID SECONDS: wait at most SECONDS for load NAME to end, then
# kill it; print its exit status. Fails if it cannot be made to exit.
finish() {
	local name=$1 pid=$2 st=0 how=""

	if ! await "$pid" "$3"; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
		how=" (still running after $3 s: killed)"
		if ! await "$pid" 30; then
			say "$name: does not exit after kill -9 (stuck in the kernel?)"
			return 1
		fi
	fi
	wait "$pid" || st=$?
	say "$name: exit status $st, $(meaning "$st")$how"
}

# kill_loads: kill -9 every user load (its process group).
kill_loads() {
	local i

	for i in "${!LOAD_PIDS[@]}"; do
		kill -KILL -- "-${LOAD_PIDS[i]}" 2>/dev/null && say "kill -9 ${LOAD_NAMES[i]}"
	done
}

# loads_end SECONDS: wait for the user loads to end (at most SECONDS each,
# then they are killed); print their exit statuses and the end of their
# output. Fails if arxe-xfer saw a wrong byte or a load would not exit.
loads_end() {
	local i name rc=0

	for i in "${!LOAD_PIDS[@]}"; do
		finish "${LOAD_NAMES[i]}" "${LOAD_PIDS[i]}" "$1" || rc=1
	done
	LOAD_NAMES=() LOAD_PIDS=()
	for name in xfer bw-server bw-client; do
		[ -e "$W/$name.log" ] || continue
		echo "--- $name, last lines:"
		tail -n 6 "$W/$name.log"
	done
	[ -e "$W/xfer.log" ] || return "$rc"
	echo "arxe-xfer verified $(grep -c '^ok ' "$W/xfer.log") operations"
	if grep '^FAIL' "$W/xfer.log"; then
		fail "arxe-xfer received wrong data"
		rc=1
	fi
	return "$rc"
}

# rpc_einval_trace: trace the RPC client's connect results and RPC
# errors that are EINVAL (see nfs_end).
rpc_einval_trace() {
	local t=/sys/kernel/tracing

	mountpoint -q "$t" || mount -t tracefs tracefs "$t" || return 1
	echo 'status == -22' >"$t/events/sunrpc/rpc_connect_status/filter" &&
		echo 'tk_status == -22' >"$t/events/sunrpc/rpc_call_rpcerror/filter" &&
		echo 1 >"$t/events/sunrpc/rpc_connect_status/enable" &&
		echo 1 >"$t/events/sunrpc/rpc_call_rpcerror/enable" &&
		echo >"$t/trace"
}

# rpc_connect_einval_tasks: how many RPC tasks the trace shows ended with
# EINVAL from a connect attempt (rpc_connect_status status=-22, then
# rpc_call_rpcerror tk_status=-22 for the same task); prints the lines and
# clears the trace.
rpc_connect_einval_tasks() {
	local t=/sys/kernel/tracing/trace

	grep -e 'rpc_connect_status:.*status=-22' -e 'rpc_call_rpcerror:.*tk_status=-22' "$t" >&2
	awk 'match($0, /task:[^ ]+/) { task = substr($0, RSTART, RLENGTH) }
		/rpc_connect_status:.*status=-22/ { connect[task] = 1 }
		/rpc_call_rpcerror:.*tk_status=-22/ && connect[task] { n++ }
		END { print n + 0 }' "$t"
	echo >"$t"
}

# nfs_end SECONDS [removal]: let the NFS writer finish its pass in flight
# (waiting at most SECONDS) and stop; print its passes. Every pass must
# have written identical data, the last one included. With "removal" (the
# device went away under the writer), a pass that failed with "Invalid
# argument" is accepted when the trace shows an RPC ended by a connect's
# EINVAL for it (stock rxe0 does the same: README, Known defects); the
# caller then checks one more write.
nfs_end() {
	local ok bad einval tasks

	[ -n "$NFS_PID" ] || return 0
	touch "$W/stop"
	if ! await "$NFS_PID" "$1"; then
		say "the NFS writer's pass in flight did not complete within $1 s: killing it"
		kill -KILL -- "-$NFS_PID" 2>/dev/null
		await "$NFS_PID" 30 || say "the NFS writer does not exit after kill -9"
		cat "$W/nfs.log"
		NFS_PID=""
		fail "NFS I/O through arxe0 did not recover"
		return 1
	fi
	wait "$NFS_PID"
	NFS_PID=""
	echo "--- NFS writer ($NFS_MIB MiB per pass, O_DIRECT):"
	cat "$W/nfs.log"
	ok=$(grep -c ': ok,' "$W/nfs.log")
	bad=$(grep -c -e FAILED -e MISMATCH "$W/nfs.log")
	say "NFS writer stopped: $ok passes identical, $bad not"
	if [ "${2:-}" = removal ] && [ "$bad" -gt 0 ]; then
		einval=$(grep -c "^dd: error writing .*: Invalid argument$" "$W/nfs.log")
		tasks=$(rpc_connect_einval_tasks)
		say "$einval of them failed with EINVAL; RPCs ended by a connect's EINVAL: $tasks"
		if [ "$einval" -eq "$bad" ] && [ "$(grep -c MISMATCH "$W/nfs.log")" -eq 0 ] &&
			[ "$tasks" -ge "$bad" ]; then
			say "known, as on stock rxe: a reconnect met the removal (README, Known defects)"
			return 0
		fi
	fi
	if [ "$bad" -ne 0 ] || ! tail -n 1 "$W/nfs.log" | grep -q ': ok,'; then
		fail "NFS I/O through arxe0 failed or wrote wrong data"
	fi
}

# loads_stop: end whatever still runs of the loads (after a failure).
loads_stop() {
	loads_end 0 >/dev/null 2>&1
	if [ -n "$NFS_PID" ]; then
		kill -KILL -- "-$NFS_PID" 2>/dev/null
		await "$NFS_PID" 30
		NFS_PID=""
	fi
}

# arxe0_back: the module loaded and arxe0 on eth0, ACTIVE.
arxe0_back() {
	if [ ! -e /sys/module/arxe ]; then
		say "modprobe arxe"
		modprobe arxe || return 1
	fi
	if gone arxe0; then
		say "rdma link add arxe0 type arxe netdev eth0"
		rdma link add arxe0 type arxe netdev eth0 || return 1
	fi
	port_active "" arxe0
}

setup() {
	setup_arxe_and_rxe || return 1
	head -c "${NFS_MIB}M" /dev/urandom >"$NFS_SRC" || return 1
	PINS0=$(pins_held)
	echo "pages pinned before any load: $PINS0"
	echo "arxe0 gauges: $(gauges arxe0)"
}

# kill_mid_transfer: kill -9 arxe-xfer and both ib_write_bw processes
# while they move data (no NFS mount yet: arxe0's gauges then count the
# loads' MRs only). Within 30 s nothing of theirs is left: no user verbs
# object on any device, arxe0's gauges back to their values before the
# loads, the pinned pages back to their count.
kill_mid_transfer() {
	local before rc=0

	clock_start
	before=$(gauges arxe0)
	say "arxe0 gauges before the loads: $before"
	loads_start rxe0 "$P_IP" || { loads_stop; return 1; }
	sleep 3
	say "mid-transfer: arxe0 gauges $(gauges arxe0); pages pinned $(pins_held)"
	user_objects | sed 's/^/  /'
	kill_loads
	loads_end 10 || rc=1
	if wait_until 30 released_to "$before"; then
		say "everything the loads held is released"
	else
		fail "30 s after kill -9 the loads' objects, pins or gauges remain" || rc=1
	fi
	print_released
	return "$rc"
}

# nfs_over_arxe0: nfsd with an RDMA listener on port 20049 exporting
# /srv/nfs (tmpfs), mounted over RDMA through arxe0 at NFS_MNT (a hard
# mount, the default), with lib.sh's nfs_server and nfs_mount; one file
# written through it and compared on the server.
nfs_over_arxe0() {
	nfs_server && nfs_mount "$NFS_MNT" "$A_IP:/srv/nfs" || return 1
	rpc_einval_trace || fail "cannot trace the RPC client's EINVALs" || return 1
	timeout 120 dd if="$NFS_SRC" of="$NFS_MNT/once" bs=1M oflag=direct status=none ||
		fail "dd through $NFS_MNT failed" || return 1
	cmp "$NFS_SRC" /srv/nfs/once || fail "the server's copy differs"
}

# nfs_after_removal: after arxe0 went away and came back under the NFS
# mount and its writer, one more O_DIRECT write through the new arxe0 is
# identical on the server.
nfs_after_removal() {
	timeout 150 dd if="$NFS_SRC" of="$NFS_MNT/after" bs=1M oflag=direct status=none ||
		fail "no NFS write through arxe0 within 150 s of its return" || return 1
	cmp "$NFS_SRC" /srv/nfs/after || fail "the server's copy differs after arxe0's return"
}

# mtu_change: eth0's MTU 1500 -> 1100 -> 1500 under load (e1000e resets
# itself for each: the carrier drops for a moment). arxe0's port MTU
# follows (1100 leaves 512 for RoCE, 1500 1024); at 1100 a new arxe-xfer
# (path MTU 512) is byte-exact while the loads run.
mtu_change() {
	local rc=0 ga gb

	clock_start
	loads_start rxe0 "$P_IP" nfs || { loads_stop; return 1; }
	sleep 2
	say "ip link set eth0 mtu 1100"
	bounded 30 ip link set eth0 mtu 1100 || fail "the MTU change failed" || rc=1
	say "MTU 1100 set"
	if wait_until 10 active_mtu_is arxe0 512; then
		say "arxe0's active_mtu is 512"
	else
		ibv_devinfo -d arxe0 | grep mtu
		fail "arxe0's active_mtu did not become 512 at MTU 1100" || rc=1
	fi
	if port_active "" arxe0 && ga=$(gid_index "" arxe0 "$A_IP") && gb=$(gid_index "" rxe0 "$P_IP"); then
		say "arxe-xfer, new QPs at path MTU 512, 1 B to 64 KiB"
		timeout 120 "$HELPERS/arxe-xfer" -B 64K -T 30 arxe0 "$ga" rxe0 "$gb" |
			tail -n 5 || fail "arxe-xfer at MTU 1100 failed" || rc=1
	else
		rc=1
	fi
	say "ip link set eth0 mtu 1500"
	bounded 30 ip link set eth0 mtu 1500 || fail "the MTU change back failed" || rc=1
	if wait_until 10 active_mtu_is arxe0 1024; then
		say "arxe0's active_mtu is 1024 again"
	else
		fail "arxe0's active_mtu did not return to 1024" || rc=1
	fi
	port_active "" arxe0 || rc=1
	loads_end 40 || rc=1
	nfs_end 150 || rc=1
	return "$rc"
}

# netdev_down_up: eth0 down for 3 s under load, then up. arxe0's port goes
# DOWN and comes back ACTIVE; the loads whose packets were lost end with
# an error, in bounded time. It runs before the NFS mount exists: an NFS
# over RDMA mount through the device with I/O in flight while its netdev
# goes down and up did not recover within 240 s, the same on a stock rxe0
# (README, Known defects).
netdev_down_up() {
	local rc=0

	clock_start
	loads_start rxe0 "$P_IP" || { loads_stop; return 1; }
	sleep 3
	say "ip link set eth0 down"
	bounded 30 ip link set eth0 down || fail "ip link set eth0 down failed" || rc=1
	if wait_until 10 port_state_is arxe0 DOWN; then
		say "arxe0/1 is DOWN"
	else
		rdma link show arxe0/1
		fail "arxe0/1 is not DOWN 10 s after eth0 went down" || rc=1
	fi
	sleep 3
	say "ip link set eth0 up"
	bounded 30 ip link set eth0 up || fail "ip link set eth0 up failed" || rc=1
	port_active "" arxe0 || rc=1
	say "arxe0/1 is ACTIVE"
	wait_until 30 ping -c 1 -W 1 "$P_IP" || fail "$P_IP does not answer after eth0 came up" || rc=1
	loads_end 40 || rc=1
	return "$rc"
}

# peer_node_back: the peer node again after its namespace went: eth1 (back
# in this namespace, down, its address gone) into a new namespace peer
# with P_IP, and a stock rxe0 on it.
peer_node_back() {
	ip netns add peer && ip link set eth1 netns peer &&
		in_ns peer ip link set lo up &&
		in_ns peer ip addr add "$P_IP/24" dev eth1 &&
		in_ns peer ip link set eth1 up || return 1
	wait_until 30 ping -c 1 -W 1 "$P_IP" || fail "$P_IP does not answer" || return 1
	in_ns peer rdma link add rxe0 type rxe netdev eth1 && port_active peer rxe0
}

# peer_netns_deleted: arxe1 on eth1 replaces rxe0 in namespace peer; under
# load between arxe0 and arxe1, ip netns delete peer (no process is in it:
# the namespace goes at once). eth1 comes back to this namespace, arxe1 is
# unregistered (once its users, whose flows lost their peer, have exited);
# arxe0 is untouched: its NFS I/O goes on without an error. Then the peer
# node is rebuilt with rxe0.
peer_netns_deleted() {
	local rc=0 t

	clock_start
	arxe1_replaces_rxe0 || return 1
	if ! loads_start arxe1 "$P_IP" nfs; then
		loads_stop
		in_ns peer rdma link delete arxe1
		in_ns peer rdma link add rxe0 type rxe netdev eth1
		return 1
	fi
	sleep 3
	say "processes in namespace peer: $(ip netns pids peer | wc -w)"
	say "ip netns delete peer"
	t=${EPOCHREALTIME//[.,]/}
	ip netns delete peer || fail "ip netns delete peer failed" || rc=1
	if wait_until 60 ip link show eth1; then
		say "eth1 is back in this namespace after $(((${EPOCHREALTIME//[.,]/} - t) / 1000)) ms"
	else
		fail "eth1 did not come back within 60 s" || rc=1
	fi
	if wait_until 60 gone arxe1; then
		say "arxe1 is unregistered after $(((${EPOCHREALTIME//[.,]/} - t) / 1000)) ms"
	else
		rdma link show
		fail "arxe1 is still registered 60 s after its netdev left" || rc=1
	fi
	loads_end 30 || rc=1
	port_active "" arxe0 || rc=1
	nfs_end 60 || rc=1
	say "the peer node again, with rxe0"
	peer_node_back || rc=1
	return "$rc"
}

# link_delete: rdma link delete arxe0 under load, the NFS writer on it. The
# delete unregisters arxe0: the kernel users (NFS client and server)
# disconnect at once, the user processes get errors (arxe0 stops
# answering) and exit, and the delete, which waits for them (arxe, like
# rxe, cannot disassociate a process from its device), completes. Then
# the link is added again, the NFS client reconnects through it and the
# writer's pass in flight completes (see nfs_end for the one error
# accepted).
link_delete() {
	local rc=0 st=0 t

	clock_start
	loads_start rxe0 "$P_IP" nfs || { loads_stop; return 1; }
	sleep 3
	say "rdma link delete arxe0"
	t=${EPOCHREALTIME//[.,]/}
	bounded 90 rdma link delete arxe0 || st=$?
	say "rdma link delete: exit $st after $(((${EPOCHREALTIME//[.,]/} - t) / 1000)) ms"
	[ "$st" -eq 0 ] || fail "rdma link delete arxe0 did not complete within 90 s" || rc=1
	gone arxe0 || fail "arxe0 is still registered" || rc=1
	loads_end 30 || rc=1
	port_active peer rxe0 || rc=1
	arxe0_back || rc=1
	nfs_end 180 removal || rc=1
	nfs_after_removal || rc=1
	return "$rc"
}

# module_unload: modprobe -r arxe under load. While user processes hold
# arxe0 (each holds a reference on the module, as with rxe) it is refused
# and disturbs nothing; once they are killed it unloads with the NFS
# writer running on arxe0, taking arxe0 with it; rxe0 stays. Then the
# module is loaded and the link added again, the NFS client reconnects
# through it and the writer's pass in flight completes. The loads
# here run until they are killed (their usual 10-14 s could end, and
# release arxe0, before the refused unload is checked: seen when the
# loads took long to start).
module_unload() {
	local rc=0 st=0 t out i LOAD_SECS=120 BW_SECS=100

	clock_start
	loads_start rxe0 "$P_IP" nfs || { loads_stop; return 1; }
	sleep 3
	for i in 0 1; do
		running "${LOAD_PIDS[i]}" ||
			fail "${LOAD_NAMES[i]} ended before the unload" || rc=1
	done
	say "modprobe -r arxe (refcnt $(cat /sys/module/arxe/refcnt))"
	out=$(timeout 60 modprobe -r arxe 2>&1) || st=$?
	say "modprobe -r arxe: exit $st: $out"
	if [ "$st" -eq 0 ] || [ ! -e /sys/module/arxe ]; then
		fail "arxe unloaded while processes held arxe0" || rc=1
	fi
	sleep 2
	for i in 0 1; do
		running "${LOAD_PIDS[i]}" ||
			fail "the refused unload ended ${LOAD_NAMES[i]}" || rc=1
	done
	kill_loads
	loads_end 10 || rc=1
	if wait_until 30 refcnt_zero; then
		say "arxe's refcnt is 0"
	else
		fail "arxe's refcnt is $(cat /sys/module/arxe/refcnt) with its users gone" || rc=1
	fi
	say "modprobe -r arxe (the NFS writer on arxe0)"
	t=${EPOCHREALTIME//[.,]/}
	st=0
	bounded 90 modprobe -r arxe || st=$?
	say "modprobe -r arxe: exit $st after $(((${EPOCHREALTIME//[.,]/} - t) / 1000)) ms"
	[ "$st" -eq 0 ] && [ ! -e /sys/module/arxe ] ||
		fail "arxe did not unload within 90 s" || rc=1
	port_active peer rxe0 || rc=1
	arxe0_back || rc=1
	nfs_end 180 removal || rc=1
	nfs_after_removal || rc=1
	return "$rc"
}

# usable_again: after an event: nothing of the loads left (no user verbs
# object, the pinned pages back to their count before the first load),
# arxe0 ACTIVE, and arxe-xfer between arxe0 and rxe0 across the wire byte
# for byte.
usable_again() {
	local rc=0

	clock_start
	if ! wait_until 30 loads_released; then
		fail "the loads' verbs objects or pinned pages outlived them" || rc=1
	fi
	print_released
	port_active "" arxe0 || return 1
	say "arxe-xfer arxe0 <-> rxe0"
	xfer_in aligned anon 0 rxe0 "$P_IP" || rc=1
	return "$rc"
}

# all_released: the NFS mount and nfsd go; then arxe0's gauges are zero, no
# user verbs object is left, the pinned pages are back to their count
# before the first load, and arxe unloads.
all_released() {
	local rc=0

	clock_start
	say "umount $NFS_MNT; rpc.nfsd 0"
	if ! bounded 60 umount "$NFS_MNT"; then
		umount -f -l "$NFS_MNT"
		fail "umount $NFS_MNT did not complete" || rc=1
	fi
	bounded 60 rpc.nfsd 0 || fail "nfsd did not stop" || rc=1
	if wait_until 30 released_to "$(zero_gauges)"; then
		say "nothing left"
	else
		fail "arxe0's gauges are not zero, or user objects or pins remain" || rc=1
	fi
	print_released
	rdma res show qp
	say "rdma link delete arxe0; modprobe -r arxe"
	bounded 60 rdma link delete arxe0 && bounded 60 modprobe -r arxe ||
		fail "arxe does not unload" || rc=1
	return "$rc"
}

tap_begin
t setup setup
t kill-9-mid-transfer kill_mid_transfer
t usable-after-kill-9 usable_again
t netdev-down-up-under-load netdev_down_up
t usable-after-netdev-down-up usable_again
t nfs-over-arxe0 nfs_over_arxe0
t mtu-change-under-load mtu_change
t usable-after-mtu-change usable_again
t peer-netns-deleted-under-load peer_netns_deleted
t usable-after-peer-netns-deleted usable_again
t link-delete-under-load link_delete
t usable-after-link-delete usable_again
t module-unload-under-load module_unload
t usable-after-module-unload usable_again
t nothing-left-arxe-unloads all_released
t kernel-log-clean kernel_clean
tap_end
