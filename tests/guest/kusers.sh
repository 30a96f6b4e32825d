#!/bin/bash
# Guest tests of arxe under real kernel users. In one guest over arxe0
# (loopback): NVMe over RDMA (nvmet target backed by a file, nvme-rdma
# host, fio writing and verifying with crc32c at 4 KiB and 128 KiB blocks)
# and NFS over RDMA (nfsd with an RDMA listener on port 20049, a client
# mounting with proto=rdma; files written and read back with checksums,
# direct I/O, many small files). Then NFS over RDMA between two nodes on
# one QEMU hub (eth0 here, eth1 in namespace peer, each with its own nfsd
# and NFS client), in both directions, arxe0 against a stock rxe0 and then
# against arxe1. The clients register their I/O with fast registration: an
# arxe client's counters must show the re-links and no IOVA allocation per
# I/O.
#
# Needs tools/guest --nics 2 --mem 4G.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

NQN=nqn.2026-11.org.arxe:test
NVMET=/sys/kernel/config/nvmet
NFS_SIZE_MIB=64
# Across the wire (3-4 MiB/s under TCG) each of the four directions
# moves less, to keep the test command within its time budget (each still
# makes the client re-link its fast registrations some 250 times).
NFS_WIRE_MIB=16

# counters_note DEV FILE: DEV's translation counters, for a later delta.
counters_note() {
	local name

	for name in xlate_iova_allocs xlate_mrs_aligned xlate_frwr_relinks xlate_tlb_hits \
		xlate_tlb_misses; do
		echo "$name $(counter "$1" "$name")"
	done >"$2"
}

# frwr_flat DEV BEFORE_FILE WHAT: since BEFORE_FILE, DEV re-linked fast
# registrations (at least 100 times), and every IOVA allocation was that of
# a new MR (the kernel user growing its MR pool), none an I/O's.
frwr_flat() {
	local name before now relinks allocs mrs

	while read -r name before; do
		now=$(counter "$1" "$name")
		echo "$3: $1 $name $before -> $now (+$((now - before)))"
		case "$name" in
		xlate_frwr_relinks) relinks=$((now - before)) ;;
		xlate_iova_allocs) allocs=$((now - before)) ;;
		xlate_mrs_aligned) mrs=$((now - before)) ;;
		esac
	done <"$2"
	if [ "$relinks" -lt 100 ]; then
		fail "$3: only $relinks fast registrations re-linked on $1"
		return 1
	fi
	[ "$allocs" -le "$mrs" ] ||
		fail "$3: $allocs IOVA allocations on $1 for $mrs new MRs and $relinks registrations"
}

nvme_target() {
	modprobe nvmet && modprobe nvmet-rdma && modprobe nvme-rdma || return 1
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
	truncate -s 512M /tmp/nvme-backing.img || return 1
	mkdir "$NVMET/subsystems/$NQN" &&
		echo 1 >"$NVMET/subsystems/$NQN/attr_allow_any_host" &&
		mkdir "$NVMET/subsystems/$NQN/namespaces/1" &&
		echo /tmp/nvme-backing.img >"$NVMET/subsystems/$NQN/namespaces/1/device_path" &&
		echo 1 >"$NVMET/subsystems/$NQN/namespaces/1/enable" &&
		mkdir "$NVMET/ports/1" &&
		echo rdma >"$NVMET/ports/1/addr_trtype" &&
		echo ipv4 >"$NVMET/ports/1/addr_adrfam" &&
		echo "$A_IP" >"$NVMET/ports/1/addr_traddr" &&
		echo 4420 >"$NVMET/ports/1/addr_trsvcid" &&
		ln -s "$NVMET/subsystems/$NQN" "$NVMET/ports/1/subsystems/$NQN"
}

# nvme_dev: the block device of the test subsystem's namespace.
nvme_dev() {
	local b

	for b in /sys/block/nvme*n*; do
		# nvmeXcYnZ is a hidden path of the multipath device nvmeXnZ
		[[ "${b##*/}" =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
		[ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$NQN" ] || continue
		basename "$b"
		return 0
	done
	return 1
}

nvme_connect() {
	local i dev

	timeout 60 nvme connect -t rdma -n "$NQN" -a "$A_IP" -s 4420 || return 1
	for ((i = 0; i < 40; i++)); do
		dev=$(nvme_dev) && [ -b "/dev/$dev" ] && break
		sleep 0.5
	done
	nvme list
	[ -b "/dev/${dev:-none}" ] || fail "no NVMe namespace of $NQN appeared"
}

# nvme_fio BS MIB: fio writes MIB MiB at block size BS and verifies it
# (crc32c).
nvme_fio() {
	local dev out

	dev=$(nvme_dev) && [ -b "/dev/$dev" ] || fail "no NVMe namespace of $NQN" || return 1
	counters_note arxe0 /tmp/nvme-counters
	out=$(timeout 900 fio --name="verify-$1" --filename="/dev/$dev" --rw=write \
		--bs="$1" --size="$2M" --direct=1 --ioengine=libaio --iodepth=16 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 2>&1) || {
		echo "$out"
		fail "fio at $1 blocks failed"
		return 1
	}
	echo "$out" | grep -E 'WRITE:|READ:|err='
	echo "$out" | grep -q 'err= 0' || fail "fio reported errors"
	frwr_flat arxe0 /tmp/nvme-counters "NVMe fio $1"
}

nvme_disconnect() {
	nvme disconnect -n "$NQN"
}

# nfs_server_peer: the peer node's nfsd (nfsd keeps one server per network
# namespace), exporting /srv/nfs-peer with an RDMA listener on port 20049
# in namespace peer. rpc.nfsd drives /proc/fs/nfsd, this namespace's
# server, so the peer's is driven through an nfsd filesystem mounted from
# peer at /run/nfsd-peer (unmounting it stops that server); a mountd in
# peer answers its export upcalls. NFSv3 is off there, so it starts no
# lockd (both nodes share one rpcbind through its socket file; NFSv4 does
# not need it).
nfs_server_peer() {
	mkdir -p /run/nfsd-peer || return 1
	in_net peer rpc.mountd -N 3 || return 1
	in_net peer mount -t nfsd nfsd /run/nfsd-peer || return 1
	echo 10 >/run/nfsd-peer/nfsv4gracetime &&
		echo -3 >/run/nfsd-peer/versions &&
		echo "rdma 20049" >/run/nfsd-peer/portlist &&
		echo 4 >/run/nfsd-peer/threads || return 1
	echo "peer's nfsd: versions $(cat /run/nfsd-peer/versions)," \
		"threads $(cat /run/nfsd-peer/threads), listeners:"
	cat /run/nfsd-peer/portlist
	grep -q '^rdma 20049$' /run/nfsd-peer/portlist || fail "the peer's nfsd has no RDMA listener"
}

# nfs_server_peer_stop: stop the peer's nfsd (its threads, then its
# filesystem) and its mountd.
nfs_server_peer_stop() {
	local pid

	echo 0 >/run/nfsd-peer/threads && umount /run/nfsd-peer || return 1
	for pid in $(ip netns pids peer); do
		[ "$(cat "/proc/$pid/comm")" = rpc.mountd ] && kill "$pid"
	done
	return 0
}

# nfs_files MNT SERVER_DIR CLIENT_DEV WHAT [MIB]: MIB (default NFS_SIZE_MIB)
# in 8 files written
# through the mount MNT; the server's copies (in SERVER_DIR) and the files
# read back through the mount (caches dropped) must match the source byte
# for byte. Prints the throughput (the comparisons are not timed); when
# CLIENT_DEV is arxe's, checks its counters (frwr_flat).
nfs_files() {
	local mnt=$1 sdir=$2 dev=$3 what=$4 size=${5:-$NFS_SIZE_MIB} i mib t0 t1 ta read_ns=0

	mib=$((size / 8))
	case "$dev" in arxe*) counters_note "$dev" /tmp/nfs-counters ;; esac
	mkdir -p /tmp/src || return 1
	for i in 1 2 3 4 5 6 7 8; do
		head -c "${mib}M" /dev/urandom >/tmp/src/f$i || return 1
	done
	t0=$(date +%s%N)
	for i in 1 2 3 4 5 6 7 8; do
		cp /tmp/src/f$i "$mnt/f$i" || return 1
	done
	sync
	t1=$(date +%s%N)
	for i in 1 2 3 4 5 6 7 8; do
		cmp /tmp/src/f$i "$sdir/f$i" || fail "the server's f$i differs" || return 1
	done
	echo 3 >/proc/sys/vm/drop_caches
	for i in 1 2 3 4 5 6 7 8; do
		ta=$(date +%s%N)
		cat "$mnt/f$i" >/tmp/src/back || return 1
		read_ns=$((read_ns + $(date +%s%N) - ta))
		cmp /tmp/src/f$i /tmp/src/back || fail "f$i read back differs" || return 1
	done
	echo "NFS over RDMA, $what: wrote $size MiB at" \
		"$((size * 1000000000 / (t1 - t0))) MiB/s, read it at" \
		"$((size * 1000000000 / read_ns)) MiB/s"
	echo "8 x $mib MiB written, identical on the server and read back"
	rm -f /tmp/src/* "$mnt"/f[1-8] || return 1
	case "$dev" in
	arxe*) frwr_flat "$dev" /tmp/nfs-counters "NFS $size MiB, $what" ;;
	*) echo "the client's $dev is stock rxe: no translation counters" ;;
	esac
}

# nfs_direct: dd with O_DIRECT both ways, 64 MiB, checksum compared.
nfs_direct() {
	local a b

	head -c 64M /dev/urandom >/tmp/direct || return 1
	dd if=/tmp/direct of=/mnt/nfs/direct bs=1M oflag=direct status=none || return 1
	dd if=/mnt/nfs/direct of=/tmp/direct.back bs=1M iflag=direct status=none || return 1
	a=$(sha256sum </tmp/direct)
	b=$(sha256sum </tmp/direct.back)
	rm -f /tmp/direct /tmp/direct.back
	[ "$a" = "$b" ] || fail "direct I/O read back differs"
}

# nfs_small: 250 files of 1 to 8 KiB, compared one by one. (The client
# returns each file's delegation at umount, one RPC each: 2000 files made
# the umount take over two minutes under TCG, 500 almost one.)
nfs_small() {
	local i

	mkdir -p /tmp/small /mnt/nfs/small || return 1
	for ((i = 0; i < 250; i++)); do
		head -c $((1024 + (i * 37) % 7168)) /dev/urandom >/tmp/small/$i
	done
	cp /tmp/small/* /mnt/nfs/small/ || return 1
	sync
	echo 3 >/proc/sys/vm/drop_caches
	diff -r /tmp/small /mnt/nfs/small || fail "small files differ"
}

# nfs_wire SERVER_DEV CLIENT_DEV: NFS over RDMA across the hub: the client
# node mounts the server node's export by its address (arxe0's node serves
# /srv/nfs at A_IP, the peer's /srv/nfs-peer at P_IP) and runs nfs_files;
# eth0 must carry the writes and the reads, and each device must hold the
# connection's RC queue pair.
nfs_wire() {
	local sdev=$1 cdev=$2 mnt=/mnt/nfs-wire export=$P_IP:/srv/nfs-peer sdir=/srv/nfs-peer
	local ns="" rc=0 dev

	if [ "$sdev" = arxe0 ]; then
		export=$A_IP:/srv/nfs sdir=/srv/nfs ns=peer
	fi
	nfs_mount "$mnt" "$export" "$ns" || return 1
	for dev in "$sdev" "$cdev"; do
		rdma res show qp link "$dev/1" | grep 'type RC' | grep -q 'state RTS' ||
			fail "no RC queue pair in RTS on $dev" || rc=1
	done
	[ "$rc" -eq 0 ] &&
		cross_wire $((2 * NFS_WIRE_MIB * 1048576)) nfs_files "$mnt" "$sdir" "$cdev" \
			"$cdev client, $sdev server across the wire" "$NFS_WIRE_MIB" || rc=1
	umount "$mnt" || rc=1
	return "$rc"
}

tap_begin
t setup setup_arxe_and_rxe
t nvme-target-on-arxe0 nvme_target
t nvme-rdma-connect nvme_connect
t nvme-fio-4k-verified nvme_fio 4k 32
t nvme-fio-128k-verified nvme_fio 128k 64
t nvme-disconnect nvme_disconnect
t nfs-server-rdma-listener nfs_server
t nfs-mount-proto-rdma nfs_mount /mnt/nfs "$A_IP:/srv/nfs"
t nfs-64m-files-checksummed nfs_files /mnt/nfs /srv/nfs arxe0 "arxe0 loopback"
t nfs-direct-io nfs_direct
t nfs-many-small-files nfs_small
t nfs-umount umount /mnt/nfs
t nfs-server-in-peer nfs_server_peer
for peer in rxe0 arxe1; do
	[ "$peer" = arxe1 ] && t arxe1-replaces-rxe0 arxe1_replaces_rxe0
	t "nfs-wire-arxe0-serves-$peer" nfs_wire arxe0 "$peer"
	t "nfs-wire-$peer-serves-arxe0" nfs_wire "$peer" arxe0
done
t nfs-server-in-peer-stops nfs_server_peer_stop
t kernel-log-clean kernel_clean
tap_end
