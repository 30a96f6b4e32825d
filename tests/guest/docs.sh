#!/bin/bash
# Guest tests of arxe's documentation as a user reads it: the man pages
# (rendered by the build into this suite's output directory, man/) are
# installed where man finds them and render without a warning, and
# arxe(7) names every module parameter arxe.ko has and every port counter
# arxe0 shows beyond stock rxe0's; README's commands for creating a device
# and sending traffic through it, choosing a mode, reading the report,
# troubleshooting, the kernel FRWR user, NFS and NVMe over RDMA and two
# machines (played by one, in loopback) run as README writes them.
#
# Needs two NICs (tools/guest --nics 2, see setup_two_nodes). Prints TAP.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

man_dir=/usr/local/share/man

# man_renders SECTION NAME HEADING...: man SECTION NAME, installed from
# /arxe/out/man, renders without a warning, with its NAME line and every
# HEADING. Keeps the text in /tmp/NAME.SECTION.txt.
man_renders() {
	local section=$1 name=$2 text=/tmp/$2.$1.txt err=/tmp/$2.$1.err h

	shift 2
	install -D -m 0644 "/arxe/out/man/$name.$section" "$man_dir/man$section/$name.$section" ||
		return 1
	MANWIDTH=80 man --warnings "$section" "$name" >"$text" 2>"$err" ||
		fail "man $section $name failed: $(head -n 3 "$err")" || return 1
	[ ! -s "$err" ] || fail "man $section $name warns: $(head -n 3 "$err")" || return 1
	grep -Eq "^ *$name +- " "$text" || fail "man $section $name has no NAME line for $name" || return 1
	for h in "$@"; do
		grep -q "^$h\$" "$text" || fail "man $section $name has no section $h"
	done
	head -n 12 "$text"
}

man_arxe() {
	man_renders 7 arxe NAME SYNOPSIS DESCRIPTION "TRANSLATION MODES" \
		"MODULE PARAMETERS" COUNTERS "RDMA RES ATTRIBUTES" "FALLBACK WITHOUT AN IOMMU" \
		LIMITS FILES "SEE ALSO"
}

man_query_mr() {
	man_renders 3 arxedv_query_mr NAME SYNOPSIS DESCRIPTION "RETURN VALUE"
}

# in_arxe7 KIND NAME...: there is a NAME, and arxe(7) has every one of
# them (KINDs: parameters, counters).
in_arxe7() {
	local kind=$1 name

	shift
	[ -s /tmp/arxe.7.txt ] || fail "arxe(7) was not rendered" || return 1
	[ $# -gt 0 ] || fail "there are no $kind to look for" || return 1
	for name in "$@"; do
		grep -q -- "$name" /tmp/arxe.7.txt || fail "arxe(7) does not document $name ($kind)"
	done
	echo "$# $kind, all in arxe(7)"
}

# Every parameter modinfo lists for arxe.ko is in arxe(7), as NAME=.
parameters_documented() {
	local params

	mapfile -t params < <(modinfo -F parm arxe | sed 's/:.*/=/')
	in_arxe7 parameters "${params[@]}"
}

# Every port counter of arxe0 that rxe0 lacks is in arxe(7).
counters_documented() {
	local counters

	# README's tests (before) set up the two nodes and arxe0
	[ -e /sys/class/infiniband/arxe0 ] || fail "no arxe0 after README's commands" || return 1
	modprobe rdma_rxe && in_ns peer rdma link add rxe0 type rxe netdev eth1 || return 1
	counters_of arxe0 | cut -d' ' -f1 | sort >/tmp/counters.arxe0
	counters_of rxe0 | cut -d' ' -f1 | sort >/tmp/counters.rxe0
	mapfile -t counters < <(comm -23 /tmp/counters.arxe0 /tmp/counters.rxe0)
	in_arxe7 "counters beyond rxe0's" "${counters[@]}"
}

readme_creates_device() {
	local cmds

	setup_two_nodes >/dev/null || return 1
	cmds=$(readme_block "Creating a device" 1)
	[ "$(wc -l <<<"$cmds")" -ge 3 ] || fail "README's block under Creating a device: '$cmds'" || return 1
	run_readme_lines <<<"$cmds" || return 1
	port_active "" arxe0 >/dev/null
}

# README's kernel FRWR user, on arxe0.
readme_frwr() {
	readme_run "Fast registration (FRWR) for kernel users" 1 'modprobe arxe_frwr_test' \
		/tmp/readme-frwr.txt
	grep -q 'arxe_frwr_test: dev arxe0 pages 16 cycles 2000 data checked: ok' /tmp/readme-frwr.txt ||
		fail "the FRWR user did not say its data checked ok"
}

# README's mode choice: the module parameter read as aligned, arxe0's
# attribute as pages once given its own mode, and afterwards both back
# where they were.
readme_mode() {
	local cmds out

	cmds=$(readme_block "Choosing a translation mode" 1)
	grep -q 'echo pages > /sys/class/infiniband/arxe0/xlate' <<<"$cmds" ||
		fail "README's mode block: '$cmds'" || return 1
	out=$(run_readme_lines <<<"$cmds" 2>&1) || {
		echo "$out"
		return 1
	}
	echo "$out"
	grep -A1 -F '$ cat /sys/module/arxe/parameters/xlate' <<<"$out" | grep -qx aligned ||
		fail "the module parameter did not read aligned"
	grep -A1 -F '$ cat /sys/class/infiniband/arxe0/xlate' <<<"$out" | grep -qx pages ||
		fail "arxe0's attribute did not read pages after README gave it that mode"
	[ "$(cat /sys/module/arxe/parameters/xlate)" = aligned ] ||
		fail "README's block left the module parameter at $(cat /sys/module/arxe/parameters/xlate)"
	[ "$(cat /sys/class/infiniband/arxe0/xlate)" = "aligned (module default)" ] ||
		fail "README's block left arxe0 at '$(cat /sys/class/infiniband/arxe0/xlate)'"
}

# README's report: an aligned MR of ibv_rc_pingpong's server with its
# table, arxe's counters counting it, and the debugfs query's answer.
readme_report() {
	readme_run "Reading the translation report" 1 'rdma -dd res show mr' /tmp/readme-report.txt
	# each MR of arxe0 on one line (its driver attributes may follow on more)
	awk '/^dev / { if (mr != "") print mr; mr = "" } /^dev arxe0 / { mr = " " } /^[a-z]/ && !/^dev / { if (mr != "") print mr; mr = "" }
		mr != "" { mr = mr " " $0 } END { if (mr != "") print mr }' /tmp/readme-report.txt >/tmp/readme-mrs.txt
	grep -E ' drv_xlate aligned( |$)' /tmp/readme-mrs.txt | grep -E ' drv_dev_entries 1( |$)' |
		grep -qE ' drv_dev_bytes 16( |$)' ||
		fail "rdma res show mr showed no aligned MR of arxe0 with one 16-byte table entry"
	grep -Eq '^ *xlate_mrs_aligned [1-9]' /tmp/readme-report.txt ||
		fail "rdma statistic does not count the aligned MR"
	# debugfs, which systemd mounts on a Debian system
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug || return 1
	readme_run "Reading the translation report" 2 iova_to_phys /tmp/readme-debugfs.txt
	grep -Eqx 'arxe0 0x7f801000 (0x[0-9a-f]+|none)' /tmp/readme-debugfs.txt ||
		fail "the debugfs query gave no answer"
}

# run_readme_host_lines ADDRESS: README's "server# " and "client# " lines
# of stdin, both on this machine (SERVER and CLIENT are ADDRESS). The
# guest does not boot with systemd: "systemctl restart nfs-server" starts
# what nfs-server.service starts.
run_readme_host_lines() {
	local line

	while IFS= read -r line; do
		line=${line#server# }
		line=${line#client# }
		line=${line//SERVER/$1}
		line=${line//CLIENT/$1}
		if [ "$line" = "systemctl restart nfs-server" ] && [ ! -d /run/systemd/system ]; then
			echo "\$ $line (without systemd: rpcbind, exportfs -r, rpc.mountd, rpc.nfsd)"
			line="mkdir -p /run/rpcbind /var/lib/nfs/rpc_pipefs &&
				{ mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd; } &&
				{ rpcbind -w 2>/dev/null || rpcbind; } && exportfs -r && rpc.mountd && rpc.nfsd"
		else
			echo "\$ $line"
		fi
		timeout 120 bash -c "$line" || fail "README's command failed: $line" || return 1
		case "$line" in
		"nvme connect "*) nvme_namespace_appears ;;
		esac
	done
}

# The block device of README's NVMe subsystem (arxe-test) appears.
nvme_namespace_appears() {
	local i b

	for ((i = 0; i < 40; i++)); do
		for b in /sys/block/nvme*n*; do
			[ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = arxe-test ] || continue
			[ -b "/dev/${b##*/}" ] && echo "namespace: /dev/${b##*/}" && return 0
		done
		sleep 0.5
	done
	fail "no block device of README's NVMe subsystem arxe-test appeared"
}

readme_nfs() {
	local cmds

	cmds=$(readme_block "Kernel users: NFS and NVMe over RDMA" 1)
	grep -q 'proto=rdma' <<<"$cmds" || fail "README's NFS block: '$cmds'" || return 1
	run_readme_host_lines "$A_IP" <<<"$cmds" >/tmp/readme-nfs.txt 2>&1
	cat /tmp/readme-nfs.txt
	grep -q " /mnt nfs4 .*proto=rdma" /tmp/readme-nfs.txt || fail "the NFS mount did not use RDMA"
}

readme_nvme() {
	local cmds

	cmds=$(readme_block "Kernel users: NFS and NVMe over RDMA" 2)
	grep -q 'nvme connect -t rdma' <<<"$cmds" || fail "README's NVMe block: '$cmds'" || return 1
	# configfs, which systemd mounts on a Debian system
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config || return 1
	run_readme_host_lines "$A_IP" <<<"$cmds" 2>&1
}

# README's troubleshooting blocks, on this guest: a translating IOMMU and
# no fallback, a memlock limit, arxe.ko built for the running kernel, UDP
# port 4791 open, Ethernet MTU 1500 and the port's 1024.
readme_troubleshooting() {
	local i cmds out kver

	kver=$(uname -r)
	for i in 1 2 3 4 5; do
		# literal headings: lint.readme finds the blocks a test runs by them
		case "$i" in
		1) cmds=$(readme_block "Troubleshooting" 1) ;;
		2) cmds=$(readme_block "Troubleshooting" 2) ;;
		3) cmds=$(readme_block "Troubleshooting" 3) ;;
		4) cmds=$(readme_block "Troubleshooting" 4) ;;
		5) cmds=$(readme_block "Troubleshooting" 5) ;;
		esac
		[ -n "$cmds" ] || fail "README's Troubleshooting has no block $i" || return 1
		out=$(run_readme_lines <<<"$cmds" 2>&1) || {
			echo "$out"
			return 1
		}
		echo "$out"
		case "$i" in
		1)
			grep -Eq '^ *[0-9]+ DMA(-FQ)?$' <<<"$out" || fail "no translating IOMMU group listed"
			grep -qx 'xlate_fallbacks 0' <<<"$out" || fail "xlate_fallbacks is not 0"
			;;
		2) grep -Eqx '[0-9]+|unlimited' <<<"$out" || fail "ulimit -l printed no limit" ;;
		3)
			if ! grep -qx "$kver" <<<"$out" || ! grep -q "^$kver " <<<"$out"; then
				fail "arxe.ko's vermagic and the running kernel $kver differ"
			fi
			;;
		4)
			grep -q ':4791 ' <<<"$out" || fail "no socket on UDP port 4791" || return 1
			# README: the second driver in a namespace cannot have the port
			modprobe rdma_rxe || return 1
			if rdma link add rxe9 type rxe netdev eth0 2>/tmp/rxe9.err; then
				rdma link delete rxe9
				fail "stock rxe added a link in arxe0's namespace"
			else
				echo "stock rxe in arxe0's namespace: $(cat /tmp/rxe9.err)"
			fi
			;;
		5)
			grep -qx 'mtu 1500' <<<"$out" || fail "eth0's MTU is not 1500"
			grep -Eq 'active_mtu:[[:space:]]+1024 ' <<<"$out" || fail "arxe0's active MTU is not 1024"
			;;
		esac
	done
}

# README's two machines, played by one: arxe0 made again as README says,
# then each server line in the background and its client line against it
# (SERVER eth0's address, N its GID index).
readme_two_machines() {
	local cmds g line server pid

	rdma link delete arxe0 || return 1
	cmds=$(readme_block "Two real machines" 1)
	grep -q 'rdma link add arxe0' <<<"$cmds" || fail "README's first block of Two real machines: '$cmds'" || return 1
	run_readme_lines <<<"$cmds" || return 1
	port_active "" arxe0 >/dev/null || return 1
	g=$(gid_index "" arxe0 "$A_IP") || return 1
	cmds=$(readme_block "Two real machines" 2)
	[ "$(grep -c '^client\$ ' <<<"$cmds")" -ge 3 ] || fail "README's server/client block: '$cmds'" || return 1
	cmds=${cmds//SERVER/$A_IP}
	cmds=${cmds// N / $g }
	while IFS= read -r line; do
		case "$line" in
		"server\$ "*)
			server=${line#server\$ }
			echo "server\$ $server"
			timeout 120 bash -c "$server" >/tmp/readme-server.txt 2>&1 &
			pid=$!
			sleep 3
			;;
		"client\$ "*)
			echo "client\$ ${line#client\$ }"
			timeout 120 bash -c "${line#client\$ }" || fail "README's client command failed: $line"
			wait "$pid" || fail "README's server command failed: $server ($(tail -n 2 /tmp/readme-server.txt))"
			;;
		esac
	done <<<"$cmds"
}

tap_begin
t man-arxe-7-renders man_arxe
t man-arxedv-query-mr-3-renders man_query_mr
t arxe-7-documents-parameters parameters_documented
t readme-creates-a-device readme_creates_device
t readme-traffic-through-it readme_traffic
t readme-frwr-test-module readme_frwr
t readme-chooses-a-mode readme_mode
t readme-reads-the-report readme_report
t readme-troubleshooting readme_troubleshooting
t readme-nfs-over-rdma readme_nfs
t readme-nvme-over-rdma readme_nvme
t readme-two-machines-in-one readme_two_machines
t arxe-7-documents-counters counters_documented
t kernel-log-clean kernel_clean
tap_end
