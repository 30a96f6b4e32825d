#!/bin/bash
# Guest tests of arxe under real kernel users, in one guest over arxe0
# (loopback): NVMe over RDMA (nvmet target backed by a file, nvme-rdma
# host, fio writing and verifying with crc32c at 4 KiB and 128 KiB blocks)
# and NFS over RDMA (nfsd with an RDMA listener on port 20049, a client
# mounting with proto=rdma; files written and read back with checksums,
# direct I/O, many small files). Both register their I/O with fast
# registration: arxe's counters must show the re-links and no IOVA
# allocation per I/O.
#
# Needs tools/guest --mem 4G.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

NQN=nqn.2026-11.org.arxe:test
NVMET=/sys/kernel/config/nvmet

setup() {
	ip addr add "$A_IP/24" dev eth0 && ip link set eth0 up || return 1
	modprobe arxe && rdma link add arxe0 type arxe netdev eth0 || return 1
	port_active "" arxe0
}

# counters_note FILE: arxe0's translation counters, for a later delta.
counters_note() {
	local name

	for name in xlate_iova_allocs xlate_mrs_aligned xlate_frwr_relinks xlate_tlb_hits \
		xlate_tlb_misses; do
		echo "$name $(counter arxe0 "$name")"
	done >"$1"
}

# frwr_flat BEFORE_FILE WHAT: since BEFORE_FILE, fast registrations were
# re-linked (at least 100 times), and every IOVA allocation was that of a
# new MR (the kernel user growing its MR pool), none an I/O's.
frwr_flat() {
	local name before now relinks allocs mrs

	while read -r name before; do
		now=$(counter arxe0 "$name")
		echo "$2: $name $before -> $now (+$((now - before)))"
		case "$name" in
		xlate_frwr_relinks) relinks=$((now - before)) ;;
		xlate_iova_allocs) allocs=$((now - before)) ;;
		xlate_mrs_aligned) mrs=$((now - before)) ;;
		esac
	done <"$1"
	if [ "$relinks" -lt 100 ]; then
		fail "$2: only $relinks fast registrations re-linked"
		return 1
	fi
	[ "$allocs" -le "$mrs" ] ||
		fail "$2: $allocs IOVA allocations for $mrs new MRs and $relinks registrations"
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

# nvme_fio BS: fio writes 256 MiB at block size BS and verifies it (crc32c).
nvme_fio() {
	local dev out

	dev=$(nvme_dev) && [ -b "/dev/$dev" ] || fail "no NVMe namespace of $NQN" || return 1
	counters_note /tmp/nvme-counters
	out=$(timeout 900 fio --name="verify-$1" --filename="/dev/$dev" --rw=write \
		--bs="$1" --size=256M --direct=1 --ioengine=libaio --iodepth=16 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 2>&1) || {
		echo "$out"
		fail "fio at $1 blocks failed"
		return 1
	}
	echo "$out" | grep -E 'WRITE:|READ:|err='
	echo "$out" | grep -q 'err= 0' || fail "fio reported errors"
	frwr_flat /tmp/nvme-counters "NVMe fio $1"
}

nvme_disconnect() {
	nvme disconnect -n "$NQN"
}

nfs_server() {
	modprobe nfsd && modprobe rpcrdma || return 1
	mkdir -p /srv/nfs /mnt/nfs /var/lib/nfs/rpc_pipefs /run/rpcbind
	mountpoint -q /srv/nfs || mount -t tmpfs -o size=1200M tmpfs /srv/nfs || return 1
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || return 1
	echo "/srv/nfs $A_IP/24(rw,no_root_squash,insecure,no_subtree_check,fsid=1)" >/etc/exports
	rpcbind -w 2>/dev/null || rpcbind || return 1
	exportfs -ra || return 1
	rpc.mountd || return 1
	rpc.nfsd 4 || return 1
	echo "rdma 20049" >/proc/fs/nfsd/portlist || return 1
	cat /proc/fs/nfsd/portlist
}

nfs_mount() {
	timeout 120 mount -t nfs -o vers=4.2,proto=rdma,port=20049 "$A_IP:/srv/nfs" /mnt/nfs ||
		return 1
	grep /mnt/nfs /proc/mounts
	grep -q 'proto=rdma' /proc/mounts || fail "the mount does not use RDMA"
}

# nfs_files: 512 MiB in 8 files written through NFS over RDMA, read back
# and compared by checksum with the source.
nfs_files() {
	local i a b t0 t1 t2

	counters_note /tmp/nfs-counters
	mkdir -p /tmp/src
	for i in 1 2 3 4 5 6 7 8; do
		head -c 64M /dev/urandom >/tmp/src/f$i || return 1
	done
	t0=$(date +%s%N)
	for i in 1 2 3 4 5 6 7 8; do
		cp /tmp/src/f$i /mnt/nfs/f$i || return 1
	done
	sync
	t1=$(date +%s%N)
	echo 3 >/proc/sys/vm/drop_caches
	for i in 1 2 3 4 5 6 7 8; do
		cat /mnt/nfs/f$i >/dev/null || return 1
	done
	t2=$(date +%s%N)
	echo "NFS over RDMA: wrote 512 MiB at $((512 * 1000000000 / (t1 - t0))) MiB/s," \
		"read it at $((512 * 1000000000 / (t2 - t1))) MiB/s"
	echo 3 >/proc/sys/vm/drop_caches
	for i in 1 2 3 4 5 6 7 8; do
		a=$(sha256sum </tmp/src/f$i)
		b=$(sha256sum </mnt/nfs/f$i)
		[ "$a" = "$b" ] || fail "f$i read back differs" || return 1
	done
	echo "8 x 64 MiB written and read back identical"
	rm -f /tmp/src/f*
	frwr_flat /tmp/nfs-counters "NFS 512 MiB"
}

# nfs_direct: dd with O_DIRECT both ways, 128 MiB, checksum compared.
nfs_direct() {
	local a b

	head -c 128M /dev/urandom >/tmp/direct || return 1
	dd if=/tmp/direct of=/mnt/nfs/direct bs=1M oflag=direct status=none || return 1
	dd if=/mnt/nfs/direct of=/tmp/direct.back bs=1M iflag=direct status=none || return 1
	a=$(sha256sum </tmp/direct)
	b=$(sha256sum </tmp/direct.back)
	rm -f /tmp/direct /tmp/direct.back
	[ "$a" = "$b" ] || fail "direct I/O read back differs"
}

# nfs_small: 2000 files of 1 to 8 KiB, compared one by one.
nfs_small() {
	local i

	mkdir -p /tmp/small /mnt/nfs/small || return 1
	for ((i = 0; i < 2000; i++)); do
		head -c $((1024 + (i * 37) % 7168)) /dev/urandom >/tmp/small/$i
	done
	cp /tmp/small/* /mnt/nfs/small/ || return 1
	sync
	echo 3 >/proc/sys/vm/drop_caches
	diff -r /tmp/small /mnt/nfs/small || fail "small files differ"
}

nfs_umount() {
	umount /mnt/nfs
}

tap_begin
t setup setup
t nvme-target-on-arxe0 nvme_target
t nvme-rdma-connect nvme_connect
t nvme-fio-4k-verified nvme_fio 4k
t nvme-fio-128k-verified nvme_fio 128k
t nvme-disconnect nvme_disconnect
t nfs-server-rdma-listener nfs_server
t nfs-mount-proto-rdma nfs_mount
t nfs-512m-files-checksummed nfs_files
t nfs-direct-io nfs_direct
t nfs-many-small-files nfs_small
t nfs-umount nfs_umount
t kernel-log-clean kernel_clean
tap_end
