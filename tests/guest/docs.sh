#!/bin/bash
# Guest tests of arxe's documentation as a user reads it: the man pages
# (rendered by the build into this suite's output directory, man/) are
# installed where man finds them and render without a warning, and
# arxe(7) names every module parameter arxe.ko has and every port counter
# arxe0 shows beyond stock rxe0's; README's commands for creating a device
# and sending traffic through it, for the kernel FRWR user and for two
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

# README's kernel FRWR user and the MR report, on arxe0.
readme_frwr() {
	local cmds

	cmds=$(readme_block "Fast registration (FRWR) for kernel users" 1)
	grep -q 'modprobe arxe_frwr_test' <<<"$cmds" || fail "README's FRWR block: '$cmds'" || return 1
	run_readme_lines <<<"$cmds" >/tmp/readme-frwr.txt 2>&1
	cat /tmp/readme-frwr.txt
	grep -q 'arxe_frwr_test: dev arxe0 pages 16 cycles 2000 data checked: ok' /tmp/readme-frwr.txt ||
		fail "the FRWR user did not say its data checked ok" || return 1
	cmds=$(readme_block "Fast registration (FRWR) for kernel users" 2)
	grep -q 'rdma -dd res show mr' <<<"$cmds" || fail "README's res block: '$cmds'" || return 1
	run_readme_lines <<<"$cmds"
	xlate_set aligned
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
t readme-two-machines-in-one readme_two_machines
t arxe-7-documents-counters counters_documented
t kernel-log-clean kernel_clean
tap_end
