# shellcheck shell=bash
# Helpers of arxe's guest tests: TAP output, kernel log checks and
# client/server runs of the verbs tools. Sourced by the guest scripts, and by
# the host unit tests for the pure parts (dmesg_problems, taint_problems).

TAP_N=0
TAP_FAILED=0
TAP_FAIL_CALLED=0
TAP_FILE=${TAP_FILE:-/arxe/out/results.tap}

# With ARXE_TAP_LIST=1 a suite only names its tests, one per line, and runs
# nothing: CMake makes each name a ctest test this way, so tests made in
# loops are listed by the same code that runs them.
TAP_LIST=${ARXE_TAP_LIST:-}

tap_begin() {
	[ -n "$TAP_LIST" ] && return 0
	: >"$TAP_FILE"
}

tap_line() {
	echo "$*"
	echo "$*" >>"$TAP_FILE"
}

# t NAME COMMAND...: run one test; print "ok N - NAME" or "not ok N - NAME"
# followed by the tail of its output as TAP comments, then the seconds it
# took as a comment. The whole output is kept in logs/NAME.log beside the
# TAP file. A test fails when COMMAND fails or when it called fail (in
# this shell) anywhere, even where it went on.
t() {
	local name=$1 log us

	shift
	if [ -n "$TAP_LIST" ]; then
		echo "$name"
		return 0
	fi
	TAP_N=$((TAP_N + 1))
	log=${TAP_FILE%/*}/logs/$name.log
	[ -d "${log%/*}" ] || mkdir -p "${log%/*}"
	us=${EPOCHREALTIME//[.,]/}
	TAP_FAIL_CALLED=0
	if "$@" >"$log" 2>&1 && [ "$TAP_FAIL_CALLED" -eq 0 ]; then
		tap_line "ok $TAP_N - $name"
	else
		tap_line "not ok $TAP_N - $name"
		tail -n 40 "$log" | sed 's/^/# /' | tee -a "$TAP_FILE"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
	us=$((${EPOCHREALTIME//[.,]/} - us))
	tap_line "# $name took $((us / 1000000)).$((us % 1000000 / 100000)) s"
}

tap_end() {
	[ -n "$TAP_LIST" ] && return 0
	tap_line "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}

# fail MESSAGE: print it and fail the test that runs (see t).
fail() {
	echo "FAIL: $*"
	TAP_FAIL_CALLED=1
	return 1
}

# refused COMMAND...: COMMAND fails, as the test expects of it; the fail
# it calls to say so does not fail the test (see t).
refused() {
	local noted=$TAP_FAIL_CALLED

	if "$@"; then
		return 1
	fi
	TAP_FAIL_CALLED=$noted
}

# dmesg_problems: print the kernel log lines (stdin) that report a kernel
# problem: a WARN splat, a BUG, an oops, a UBSAN or KFENCE report, a hung
# task, a panic.
dmesg_problems() {
	grep -E 'WARNING:|BUG:|BUG at|Oops|UBSAN:|KFENCE:|general protection fault|Kernel panic|------------\[ cut here \]|INFO: task .* blocked for more than' || true
}

# taint_problems TAINT: print the taint flags that mean the kernel warned
# or died (W: a WARN fired, D: an oops, L: a soft lockup), given the value
# of /proc/sys/kernel/tainted. Out-of-tree and unsigned module taints (O, E)
# are expected for arxe.ko and not reported.
taint_problems() {
	local taint=$1 out=""

	(((taint >> 9) & 1)) && out+="W"
	(((taint >> 7) & 1)) && out+="D"
	(((taint >> 14) & 1)) && out+="L"
	echo "$out"
}

# kernel_clean: fail when the kernel log or the taint flags show a problem.
kernel_clean() {
	local bad taint

	bad=$(dmesg | dmesg_problems)
	taint=$(taint_problems "$(cat /proc/sys/kernel/tainted)")
	if [ -n "$bad" ] || [ -n "$taint" ]; then
		# the problem lines last: the TAP comments keep a failure's tail
		dmesg | tail -n 60
		echo "kernel taint flags: ${taint:-none}"
		echo "$bad" | head -n 10
		return 1
	fi
}

# readme_block HEADING [N]: the lines of the Nth (default first) indented
# code block under README's "## HEADING" or "### HEADING", up to the next
# heading, without their indentation (a block in a list item is indented
# further), with the lines a backslash continues joined (README: the
# repository's, in a guest /arxe/src/README.md). tests/readme.sh counts
# the blocks the same way.
readme_block() {
	awk -v h="$1" -v want="${2:-1}" '
		$0 == "## " h || $0 == "### " h { under = 1; next }
		under && /^#/ { exit }
		under && /^    / { if (!inblock) n++; inblock = 1; if (n == want) { sub(/^ +/, ""); print }; next }
		{ inblock = 0 }
	' "${README:-/arxe/src/README.md}" | sed -e ':a' -e '/\\$/{N;s/\\\n *//;ba}'
}

# run_readme_lines: run each line of stdin with bash, as a user types it,
# each within README_TIMEOUT seconds (default 120).
run_readme_lines() {
	local line

	while IFS= read -r line; do
		echo "\$ $line"
		timeout "${README_TIMEOUT:-120}" bash -c "$line" || fail "README's command failed: $line" || return 1
	done
}

# readme_traffic: README's ib_write_bw through arxe0 in loopback ("Creating
# a device", block 2), ADDRESS and N filled in with eth0's address and its
# GID index; it must print a result line.
readme_traffic() {
	local cmds g

	g=$(gid_index "" arxe0 "$A_IP") || return 1
	cmds=$(readme_block "Creating a device" 2)
	grep -q 'ib_write_bw' <<<"$cmds" || fail "README's second block under Creating a device: '$cmds'" || return 1
	cmds=${cmds//ADDRESS/$A_IP}
	run_readme_lines <<<"${cmds//-x N/-x $g}" >/tmp/readme-traffic.txt 2>&1
	cat /tmp/readme-traffic.txt
	grep -Eq '^ *65536 +[0-9]+ +[0-9.]+ +[0-9.]+' /tmp/readme-traffic.txt ||
		fail "ib_write_bw printed no result line"
}

# readme_run HEADING N PATTERN OUT: README's block N under HEADING, which
# must hold PATTERN, run as written, its output kept in OUT and shown.
# Fails with the first command that fails.
readme_run() {
	local cmds rc

	cmds=$(readme_block "$1" "$2")
	grep -q -- "$3" <<<"$cmds" ||
		fail "README's block $2 under \"$1\" has no '$3': '$cmds'" || return 1
	run_readme_lines <<<"$cmds" >"$4" 2>&1
	rc=$?
	cat "$4"
	return "$rc"
}

# readme_run_in HEADING N DIR FROM TO LINE...: README's block N under
# HEADING, which must have lines starting with each LINE, run in DIR as a
# user types it (each line within 900 s), every FROM in it (a path the
# block names) replaced by TO (one of the test's own).
readme_run_in() {
	local heading=$1 n=$2 dir=$3 from=$4 to=$5 cmds want

	shift 5
	cmds=$(readme_block "$heading" "$n")
	for want in "$@"; do
		grep -q -- "^$want" <<<"$cmds" ||
			fail "README's block $n under \"$heading\" has no line '$want': '$cmds'" || return 1
	done
	(cd "$dir" && README_TIMEOUT=900 run_readme_lines) <<<"${cmds//"$from"/$to}"
}

# A program calling arxedv_query_mr(), built with nothing but what
# pkg-config says of arxe and no environment variables, runs on arxe0 and
# finds its 1 MiB MR translated with one 16-byte device table entry.
arxedv_program_builds() {
	local flags out

	flags=$(env -i /usr/bin/pkg-config --cflags --libs arxe) || fail "pkg-config knows no arxe" || return 1
	echo "pkg-config: $flags"
	# shellcheck disable=SC2086 # the flags are words
	env -i PATH=/usr/bin:/bin gcc-16 -Wall -Werror -o /tmp/query_mr \
		"$(dirname "${BASH_SOURCE[0]}")/pkgconfig/query_mr.c" $flags || fail "query_mr.c does not build" || return 1
	out=$(env -i /tmp/query_mr arxe0) || fail "query_mr failed" || return 1
	echo "$out"
	[ "$out" = "xlate 2 dev_table_bytes 16 pinned_bytes 1048576" ] ||
		fail "arxedv_query_mr says '$out' of an aligned 1 MiB MR"
}

# installed_files DIR: the files under DIR (a root) that a package
# could leave behind, one path a line, relative to DIR.
installed_files() {
	(cd "$1" && find etc usr/lib usr/include usr/share/doc usr/share/man usr/src \
		lib/modules var/lib/dkms -xdev 2>/dev/null | LC_ALL=C sort)
}

# in_ns NS COMMAND...: run COMMAND in network namespace NS ("" = this one).
in_ns() {
	local ns=$1

	shift
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$@"
	else
		"$@"
	fi
}

# wait_listen NS PORT: wait (at most 30 s) until a TCP listener is on
# PORT, or, for PORT "cm", until an RDMA CM ID listens (servers that take
# their connections through RDMA CM have no TCP port).
wait_listen() {
	local ns=$1 port=$2 i

	for ((i = 0; i < 60; i++)); do
		if [ "$port" = cm ]; then
			in_ns "$ns" rdma res show cm_id 2>/dev/null | grep -q LISTEN && return 0
		elif in_ns "$ns" ss -Hltn "sport = :$port" | grep -q .; then
			return 0
		fi
		sleep 0.5
	done
	echo "nothing listens on port $port in namespace '${ns:-init}' after 30 s"
	return 1
}

# pair SERVER_NS CLIENT_NS PORT SECONDS SERVER_CMD CLIENT_CMD
# Start SERVER_CMD, wait for its port (see wait_listen), run CLIENT_CMD;
# both are killed
# after SECONDS. Output lands in /tmp/server.log and /tmp/client.log (and
# on stdout); fails unless both exit 0.
pair() {
	local sns=$1 cns=$2 port=$3 secs=$4 scmd=$5 ccmd=$6 spid src=0 crc=0

	in_ns "$sns" timeout "$secs" bash -c "$scmd" >/tmp/server.log 2>&1 &
	spid=$!
	if ! wait_listen "$sns" "$port"; then
		kill "$spid" 2>/dev/null
		wait "$spid"
		cat /tmp/server.log
		return 1
	fi
	in_ns "$cns" timeout "$secs" bash -c "$ccmd" >/tmp/client.log 2>&1 || crc=$?
	wait "$spid" || src=$?
	echo "--- server ($scmd): exit $src"
	cat /tmp/server.log
	echo "--- client ($ccmd): exit $crc"
	cat /tmp/client.log
	[ "$src" -eq 0 ] && [ "$crc" -eq 0 ]
}

# perftest_bw_avg FILE BYTES: the average bandwidth a perftest bandwidth
# run (ib_*_bw) reported for message size BYTES, as printed; empty if none.
perftest_bw_avg() {
	awk -v size="$2" '
		/#bytes/ && /BW average/ { table = 1; next }
		table && $1 == size && NF >= 5 { print $4; exit }
	' "$1"
}

# perftest_bw_rate FILE BYTES: the average bandwidth (Gb/s) of the same
# run from its message rate (6 decimals of Mpps), to four significant
# digits: perftest prints Gb/s with two decimals, too coarse to tell 1%
# under TCG; empty if none.
perftest_bw_rate() {
	awk -v size="$2" '
		/#bytes/ && /MsgRate/ { table = 1; next }
		table && $1 == size && NF >= 5 { printf "%.4g\n", $5 * size * 8 / 1000; exit }
	' "$1"
}

# perftest_lat_avg FILE BYTES: the average latency (usec) a perftest
# latency run (ib_*_lat) reported for message size BYTES; empty if none.
perftest_lat_avg() {
	awk -v size="$2" '
		/#bytes/ && /t_avg/ { for (i = 1; i <= NF; i++) if ($i ~ /^t_avg/) col = i; next }
		col && $1 == size && NF >= col { print $col; exit }
	' "$1"
}

# perftest_plausible bw|lat SIZE ITERS VALUE SECONDS: VALUE (Gb/s or
# usec) is one that ITERS messages of SIZE bytes can give in a run that took
# SECONDS of wall clock in all: a bandwidth of at least SIZE * ITERS over
# the whole run, a latency of no more than the run divided by ITERS.
# perftest times itself with the CPU's cycle counter, which the emulator
# occasionally misreads (once a 3 s rxe ib_send_bw run reported 0.00 Gb/s).
perftest_plausible() {
	awk -v kind="$1" -v size="$2" -v n="$3" -v v="$4" -v s="$5" 'BEGIN {
		if (v !~ /^[0-9.]+$/ || v <= 0)
			exit 1
		if (kind == "bw")
			exit !(v >= size * n * 8 / s / 1e9)
		exit !(v * n <= s * 1e6)
	}'
}

# The two nodes of a guest with two NICs (tools/guest --nics 2).
# shellcheck disable=SC2034 # used by the scripts that source this file
A_IP=10.0.0.1
P_IP=10.0.0.2
# shellcheck disable=SC2034
HELPERS=/usr/local/lib/arxe
# shellcheck disable=SC2034
PORT=18515

# setup_two_nodes: eth0 (here, A_IP) and eth1 (namespace peer, P_IP), on
# one QEMU hub: two nodes and a real wire between them.
setup_two_nodes() {
	local i

	ip netns add peer &&
		ip link set eth1 netns peer &&
		ip addr add "$A_IP/24" dev eth0 &&
		ip link set eth0 up &&
		ip netns exec peer ip link set lo up &&
		ip netns exec peer ip addr add "$P_IP/24" dev eth1 &&
		ip netns exec peer ip link set eth1 up || return 1
	# The links need a moment to come up (e1000e negotiates); allow 30 s.
	for ((i = 0; i < 15; i++)); do
		if ping -c 1 -W 2 "$P_IP"; then
			return 0
		fi
	done
	fail "$P_IP does not answer across the hub"
}

# port_active NS DEV: wait (at most 20 s) until DEV's port 1 is ACTIVE.
port_active() {
	local ns=$1 dev=$2 i

	for ((i = 0; i < 40; i++)); do
		if in_ns "$ns" rdma link show "$dev/1" | grep -q 'state ACTIVE'; then
			in_ns "$ns" rdma link show "$dev/1"
			return 0
		fi
		sleep 0.5
	done
	in_ns "$ns" rdma link show
	fail "$dev/1 not ACTIVE after 20 s"
}

# gid_index NS DEV IP: the RoCE v2 GID index of DEV (whose netdev is in
# namespace NS) for IPv4 address IP.
gid_index() {
	local dev=$2 ip=$3 want f i octets gid type

	IFS=. read -r -a octets <<<"$ip"
	printf -v want '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' "${octets[@]}"
	# RDMA devices are shared by all network namespaces (rdma system
	# netns shared): their sysfs is read from here, without a process.
	for f in /sys/class/infiniband/"$dev"/ports/1/gids/*; do
		i=${f##*/}
		read -r gid <"$f" 2>/dev/null || continue
		[ "$gid" = "$want" ] || continue
		type=""
		read -r type <"/sys/class/infiniband/$dev/ports/1/gid_attrs/types/$i" 2>/dev/null
		if [ "$type" = "RoCE v2" ]; then
			echo "$i"
			return 0
		fi
	done
	echo "no RoCE v2 GID for $ip on $dev" >&2
	return 1
}

# dev_pair SECS SNS SDEV SIP CNS CDEV GIDOPT CMD: run "CMD -d SDEV GIDOPT
# GID" as the server in namespace SNS (address SIP) and "CMD -d CDEV GIDOPT
# GID SIP" as its client in CNS, GID being each side's RoCE v2 GID index;
# see pair.
dev_pair() {
	local secs=$1 sns=$2 sdev=$3 sip=$4 cns=$5 cdev=$6 gopt=$7 cmd=$8 cip sg cg

	cip=$A_IP
	[ "$cns" = peer ] && cip=$P_IP
	sg=$(gid_index "$sns" "$sdev" "$sip") || return 1
	cg=$(gid_index "$cns" "$cdev" "$cip") || return 1
	pair "$sns" "$cns" "$PORT" "$secs" "$cmd -d $sdev $gopt $sg" "$cmd -d $cdev $gopt $cg $sip"
}

# perftest_pair TOOL SNS SDEV SIP CNS CDEV: one perftest bandwidth run
# (TOOL is ib_write_bw, ib_read_bw, ...) of 64 KiB messages, server SDEV at
# SIP in namespace SNS, client CDEV in CNS. Passes when the run completes
# and reports a positive average; prints "RESULT TOOL SDEV<-CDEV ...".
# Under TCG perftest's calibration of its cycle counter can fail ("r^2 <
# 0.9": it then reports 0 for everything, seen on stock rxe0 in a CI run
# of 2026-12-03); such a run is run once more, and says so.
perftest_pair() {
	local tool=$1 bw

	shift
	dev_pair 180 "$@" -x "$tool -F --report_gbits -s 65536 -n 300" || return 1
	bw=$(perftest_bw_avg /tmp/client.log 65536)
	if grep -q 'Correlation coefficient r^2' /tmp/client.log &&
		awk -v b="${bw:-0}" 'BEGIN { exit !(b == 0) }'; then
		echo "perftest could not calibrate its clock (above): running it once more"
		dev_pair 180 "$@" -x "$tool -F --report_gbits -s 65536 -n 300" || return 1
		bw=$(perftest_bw_avg /tmp/client.log 65536)
	fi
	[ -n "$bw" ] || fail "no result line for 65536 bytes in the client output"
	awk -v b="$bw" 'BEGIN { exit !(b > 0) }' || fail "average bandwidth $bw is not positive"
	echo "RESULT $tool $2<-$5 65536 B: $bw Gb/s"
}

# nic_setup_is NIC IOMMU: eth0 is driven by NIC (e1000e or virtio) and sits
# behind IOMMU (intel or virtio, in translated mode) or behind none.
nic_setup_is() {
	local nic=$1 iommu=$2 dev drv group type

	dev=$(readlink -f /sys/class/net/eth0/device)
	drv=$(basename "$(readlink -f "$dev/driver")")
	echo "eth0: device $dev, driver $drv"
	case "$nic" in
	e1000e) [ "$drv" = e1000e ] || fail "eth0 is driven by $drv, not e1000e" || return 1 ;;
	virtio)
		[ "$drv" = virtio_net ] || fail "eth0 is driven by $drv, not virtio_net" || return 1
		# A virtio NIC hangs under its virtio device; the PCI function
		# that does the DMA is the parent.
		dev=$(dirname "$dev")
		;;
	esac
	group=$dev/iommu_group
	if [ "$iommu" = none ]; then
		[ ! -e "$group" ] || fail "eth0's PCI function has an IOMMU group" || return 1
		if ls /sys/class/iommu/* >/dev/null 2>&1; then
			fail "an IOMMU is present: $(ls /sys/class/iommu)"
		fi
		return
	fi
	[ -e "$group" ] || fail "eth0's PCI function $dev has no IOMMU group" || return 1
	type=$(cat "$group/type")
	echo "IOMMU group $(basename "$(readlink -f "$group")"), type $type; IOMMUs: $(ls /sys/class/iommu)"
	case "$type" in
	DMA | DMA-FQ) ;;
	*) fail "the IOMMU domain type is $type, not a translated one" || return 1 ;;
	esac
	case "$iommu" in
	intel) compgen -G '/sys/class/iommu/dmar*' >/dev/null || fail "no Intel IOMMU (dmar) in /sys/class/iommu" ;;
	virtio) compgen -G '/sys/bus/virtio/drivers/virtio_iommu/virtio*' >/dev/null || fail "no device bound to virtio_iommu" ;;
	esac
}

# hold_mr DEV SIZE BACKING OFFSET [OPTION...]: register an MR with
# arxe-regmr (given OPTIONs, e.g. -O for ODP, -n COUNT) and keep it
# registered until release_mr, as the user nobody when MR_AS_NOBODY is set.
# Sets MR_LKEY, MR_ADDR, MR_VMPIN_KB (the process's pinned memory while it
# holds the MR).
# shellcheck disable=SC2034 # MR_* are read by the scripts that source this file
hold_mr() {
	local i as=()

	rm -f /tmp/mr-in /tmp/mr-out
	mkfifo /tmp/mr-in
	[ -n "${MR_AS_NOBODY:-}" ] && as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	timeout 600 "${as[@]}" "$HELPERS/arxe-regmr" -m "$3" -o "$4" -t 540 "${@:5}" \
		"$1" "$2" </tmp/mr-in >/tmp/mr-out 2>&1 &
	MR_PID=$!
	exec 8>/tmp/mr-in
	for ((i = 0; i < 600; i++)); do
		grep -q -e '^registered' -e 'failed' /tmp/mr-out 2>/dev/null && break
		kill -0 "$MR_PID" 2>/dev/null || break
		sleep 0.5
	done
	cat /tmp/mr-out
	MR_LINE=$(grep '^registered' /tmp/mr-out) || {
		release_mr
		fail "arxe-regmr did not register $2 of $3 memory on $1"
		return 1
	}
	MR_LKEY=$(field_of "$MR_LINE" lkey)
	MR_ADDR=$(field_of "$MR_LINE" addr)
	MR_VMPIN_KB=$(field_of "$MR_LINE" vmpin_kb)
}

# field_of LINE KEY: the value of KEY=VALUE in LINE.
field_of() {
	local word

	for word in $1; do
		case "$word" in
		"$2"=*)
			echo "${word#*=}"
			return 0
			;;
		esac
	done
	return 1
}

# release_mr: deregister the MR of hold_mr; sets MR_VMPIN_AFTER_KB.
# shellcheck disable=SC2034
release_mr() {
	exec 8>&-
	wait "$MR_PID"
	cat /tmp/mr-out
	MR_VMPIN_AFTER_KB=$(sed -n 's/^deregistered vmpin_kb=//p' /tmp/mr-out)
}

# pins_held: pages pinned with FOLL_PIN in the whole system now (pins
# acquired less pins released, the per-CPU counts folded in first).
pins_held() {
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	awk '$1 == "nr_foll_pin_acquired" { a = $2 } $1 == "nr_foll_pin_released" { r = $2 }
		END { print a - r }' /proc/vmstat
}

# mr_attr NAME: driver attribute NAME (drv_NAME) of the held MR, as
# rdma -dd res show mr prints it.
mr_attr() {
	rdma -dd res show mr | awk -v lkey="$MR_LKEY" -v name="drv_$1" '
		/^dev / {
			cur = 0
			for (i = 1; i < NF; i++)
				if ($i == "lkey" && $(i + 1) == lkey)
					cur = 1
		}
		cur { for (i = 1; i < NF; i++) if ($i == name) { print $(i + 1); exit } }'
}

# expect_attrs NAME VALUE...: the held MR's attributes have these values.
expect_attrs() {
	local got bad=0

	while [ $# -ge 2 ]; do
		got=$(mr_attr "$1")
		echo "drv_$1 = $got"
		[ "$got" = "$2" ] || fail "drv_$1 is '$got', expected '$2'" || bad=1
		shift 2
	done
	return "$bad"
}

# xlate_set MODE: translate new MRs of arxe with MODE.
xlate_set() {
	echo "$1" >/sys/module/arxe/parameters/xlate || return 1
	[ "$(cat /sys/module/arxe/parameters/xlate)" = "$1" ] ||
		fail "xlate reads $(cat /sys/module/arxe/parameters/xlate), not $1"
}

# wire_bytes: bytes received and sent on eth0 so far.
wire_bytes() {
	echo $(($(cat /sys/class/net/eth0/statistics/rx_bytes) +
		$(cat /sys/class/net/eth0/statistics/tx_bytes)))
}

# cross_wire BYTES COMMAND...: COMMAND passes and eth0 carries at least
# BYTES (its payload) in the two directions together.
cross_wire() {
	local min=$1 before after

	shift
	before=$(wire_bytes)
	"$@" || return 1
	after=$(wire_bytes)
	echo "eth0 carried $((after - before)) bytes"
	[ $((after - before)) -ge "$min" ] ||
		fail "eth0 carried $((after - before)) bytes, less than the $min of payload"
}

# nfs_server: nfsd with an RDMA listener on port 20049, exporting /srv/nfs
# (served here) and /srv/nfs-peer (served by nfs_server_peer), both tmpfs.
# A grace period of 10 s instead of 90: no nfsdcld keeps client records.
nfs_server() {
	modprobe nfsd && modprobe rpcrdma || return 1
	mkdir -p /srv/nfs /srv/nfs-peer /mnt/nfs /var/lib/nfs/rpc_pipefs /run/rpcbind
	mountpoint -q /srv/nfs || mount -t tmpfs -o size=1200M tmpfs /srv/nfs || return 1
	mountpoint -q /srv/nfs-peer || mount -t tmpfs -o size=700M tmpfs /srv/nfs-peer ||
		return 1
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || return 1
	cat >/etc/exports <<EOF
/srv/nfs $A_IP/24(rw,no_root_squash,insecure,no_subtree_check,fsid=1)
/srv/nfs-peer $A_IP/24(rw,no_root_squash,insecure,no_subtree_check,fsid=2)
EOF
	rpcbind -w 2>/dev/null || rpcbind || return 1
	exportfs -ra || return 1
	rpc.mountd || return 1
	echo 10 >/proc/fs/nfsd/nfsv4gracetime || return 1
	rpc.nfsd 4 || return 1
	echo "rdma 20049" >/proc/fs/nfsd/portlist || return 1
	cat /proc/fs/nfsd/portlist
}

# in_net NS COMMAND...: COMMAND in network namespace NS, in this mount
# namespace (ip netns exec would give it a mount namespace of its own, and
# mounts made there vanish with it). The NFS client and nfsd take their
# network namespace from the process that mounts them.
in_net() {
	local ns=$1

	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# nfs_mount MNT SERVER:PATH [NS]: mount the export over RDMA at MNT, the
# client in namespace NS (default this one), then wait out the server's
# grace period (at most 60 s: the first file created waits for it) so that
# timings count I/O only.
nfs_mount() {
	local mnt=$1 export=$2 ns=${3:-}

	mkdir -p "$mnt" || return 1
	if [ -n "$ns" ]; then
		in_net "$ns" timeout 120 mount -t nfs -o vers=4.2,proto=rdma,port=20049 "$export" "$mnt"
	else
		timeout 120 mount -t nfs -o vers=4.2,proto=rdma,port=20049 "$export" "$mnt"
	fi || return 1
	grep " $mnt " /proc/mounts
	grep " $mnt " /proc/mounts | grep -q 'proto=rdma' || fail "$mnt does not use RDMA" ||
		return 1
	timeout 60 touch "$mnt/.grace-over" && rm "$mnt/.grace-over"
}

# xfer_in MODE BACKING OFFSET [PEER PEER_IP [MR_SIZE]]: arxe-xfer between
# arxe0 MRs of MODE (and PEER's, default arxe0) in BACKING memory at
# OFFSET; with MR_SIZE, the peer's MR is that large (traffic at its end).
xfer_in() {
	local mode=$1 backing=$2 offset=$3 peer=${4:-arxe0} pip=${5:-$A_IP} ga gb
	local args=(-m "$backing" -o "$offset")

	[ -n "${6:-}" ] && args+=(-S "$6")
	xlate_set "$mode" || return 1
	ga=$(gid_index "" arxe0 "$A_IP") || return 1
	gb=$(gid_index "" "$peer" "$pip") || return 1
	timeout 600 "$HELPERS/arxe-xfer" "${args[@]}" arxe0 "$ga" "$peer" "$gb"
}

# huge_leaves BACKING SIZE OFFSET L4K L2M L1G: an aligned MR of huge-page
# BACKING is mapped with exactly these IOMMU leaves.
huge_leaves() {
	xlate_set aligned && hold_mr arxe0 "$2" "$1" "$3" || return 1
	rdma -dd res show mr
	if ! expect_attrs dev_bytes 16 leaves_4k "$4" leaves_2m "$5" leaves_1g "$6"; then
		release_mr
		return 1
	fi
	release_mr
}

# counters_of DEV: DEV's port counters, one "NAME VALUE" line each, from
# rdma statistic (guest.crafted's deltas, guest.lossy's snapshots,
# guest.lifecycle's gauges).
counters_of() {
	rdma statistic show link "$1/1" | awk '{
		for (i = 1; i < NF; i++)
			if ($i ~ /^[a-z_0-9]+$/ && $(i + 1) ~ /^[0-9]+$/)
				print $i, $(i + 1)
	}'
}

# counter DEV NAME: port counter NAME of DEV, from rdma statistic, read in
# the shell (no process: tests ask for single counters often).
counter() {
	local -a w=()
	local i

	# a here-string: the words without a pipe or /dev/fd
	read -r -d '' -a w <<<"$(rdma statistic show link "$1/1")"
	for ((i = 0; i < ${#w[@]} - 1; i++)); do
		if [ "${w[i]}" = "$2" ]; then
			echo "${w[i + 1]}"
			return 0
		fi
	done
}

# setup_arxe_and_rxe: two nodes (setup_two_nodes), arxe0 on eth0 here and a
# stock rxe0 on eth1 in namespace peer, both ACTIVE.
setup_arxe_and_rxe() {
	setup_two_nodes || return 1
	modprobe arxe && modprobe rdma_rxe || return 1
	rdma link add arxe0 type arxe netdev eth0 || return 1
	in_ns peer rdma link add rxe0 type rxe netdev eth1 || return 1
	port_active "" arxe0 && port_active peer rxe0
}

# arxe1_replaces_rxe0: peer's node now runs arxe (arxe1 on eth1).
arxe1_replaces_rxe0() {
	in_ns peer rdma link delete rxe0 || return 1
	in_ns peer rdma link add arxe1 type arxe netdev eth1 || return 1
	port_active peer arxe1
}

# misuse_run NS DEV IP TAG: arxe-misuse's cases on DEV (tests/guest/misuse.c),
# their outcomes kept in /arxe/out/misuse-TAG.txt.
misuse_run() {
	local g out=/arxe/out/misuse-$4.txt

	g=$(gid_index "$1" "$2" "$3") || return 1
	in_ns "$1" timeout 900 "$HELPERS/arxe-misuse" "$2" "$g" >"$out" || {
		cat "$out"
		fail "arxe-misuse did not run through on $2"
		return 1
	}
	echo "$(wc -l <"$out") cases on $2"
	cat "$out"
}

# misuse_same_as_rxe MODE: every misuse case ends on arxe0 in MODE as it
# ended on rxe0 (misuse_run peer rxe0 "$P_IP" rxe0 first).
misuse_same_as_rxe() {
	xlate_set "$1" && misuse_run "" arxe0 "$A_IP" "arxe0-$1" || return 1
	diff -u /arxe/out/misuse-rxe0.txt "/arxe/out/misuse-arxe0-$1.txt" ||
		fail "arxe0 ($1) and rxe0 differ (- rxe0, + arxe0)"
}
