#!/bin/bash
# Guest tests of arxe's foundation: arxe.ko loads beside rdma_rxe, arxe0
# comes up and is served by libarxe, verbs and perftest traffic passes on
# arxe0 and on a stock rxe0, and unloading leaves the kernel clean. The
# same tools across the wire between the two are guest.wire's, arxe-xfer
# across it guest.lossy's and guest.xlate's.
#
# Needs two NICs on one QEMU hub (tools/guest --nics 2): eth0 stays here
# with arxe0 (10.0.0.1), eth1 moves into namespace "peer" with rxe0
# (10.0.0.2); each soft-RoCE driver binds UDP 4791 in its own namespace.
# Prints TAP; each test is a line "t NAME FUNCTION" below.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

module_loads() {
	modprobe arxe || return 1
	grep -q '^arxe ' /proc/modules || fail "arxe not in /proc/modules"
	modinfo -F description arxe
	dmesg | grep -q 'arxe: loaded' || fail "no 'arxe: loaded' in dmesg"
}

rxe_loads_beside() {
	modprobe rdma_rxe || return 1
	grep -q '^rdma_rxe ' /proc/modules || fail "rdma_rxe not loaded"
	grep -q '^arxe ' /proc/modules || fail "arxe gone after loading rdma_rxe"
}

arxe_link_active() {
	rdma link add arxe0 type arxe netdev eth0 || return 1
	port_active "" arxe0 || return 1
	rdma link show arxe0/1 | grep -q 'netdev eth0' || fail "arxe0 not on eth0"
	grep -q ACTIVE /sys/class/infiniband/arxe0/ports/1/state
}

arxe_link_refuses_bad_input() {
	if rdma link add foo0 type arxe netdev eth0; then
		fail "a link named foo0 was accepted"
	fi
	[ ! -e /sys/class/infiniband/foo0 ] || fail "foo0 exists"
	if rdma link add arxe9 type arxe netdev eth0; then
		fail "a second arxe link on eth0 was accepted"
	fi
	[ ! -e /sys/class/infiniband/arxe9 ] || fail "arxe9 exists"
	if rdma link add arxe9 type arxe netdev nonexistent0; then
		fail "a link on a missing netdev was accepted"
	fi
	port_active "" arxe0
}

# provider_is NS DEV LIB: DEV is served by the shared object LIB.
provider_is() {
	local so

	so=$(in_ns "$1" "$HELPERS/arxe-provider-of" "$2") || return 1
	echo "$2 is served by $so"
	case "$so" in
	*/"$3") ;;
	*) fail "$2 is served by $so, not $3" ;;
	esac
}

devinfo_through_libarxe() {
	local out

	out=$(ibv_devinfo -d arxe0) || return 1
	echo "$out"
	grep -q 'hca_id:[[:space:]]*arxe0' <<<"$out" || fail "no hca_id arxe0"
	grep -q 'PORT_ACTIVE' <<<"$out" || fail "port not active in ibv_devinfo"
	provider_is "" arxe0 libarxe-rdmav65.so || return 1
	# Without libarxe's driver file, no provider claims arxe0.
	mv /etc/libibverbs.d/arxe.driver /tmp/arxe.driver
	if ibv_devinfo -d arxe0 >/dev/null 2>&1; then
		mv /tmp/arxe.driver /etc/libibverbs.d/arxe.driver
		fail "ibv_devinfo -d arxe0 works without libarxe"
	fi
	mv /tmp/arxe.driver /etc/libibverbs.d/arxe.driver
}

# pingpong SNS SDEV SIP CNS CDEV: ibv_rc_pingpong with buffer validation
# between SDEV (server, address SIP) and CDEV.
pingpong() {
	local n=200

	dev_pair 120 "$@" -g "ibv_rc_pingpong -c -n $n" || return 1
	grep -q "$n iters" /tmp/client.log || fail "client did not finish $n iterations"
	grep -q "$n iters" /tmp/server.log || fail "server did not finish $n iterations"
	if grep -q 'invalid data' /tmp/server.log /tmp/client.log; then
		fail "ibv_rc_pingpong found invalid data"
	fi
}

rxe_link_active() {
	in_ns peer rdma link add rxe0 type rxe netdev eth1 || return 1
	port_active peer rxe0 || return 1
	provider_is peer rxe0 librxe-rdmav65.so
}

# xfer DEV_A IP_A DEV_B IP_B: arxe-xfer's byte-exact send/write/read
# between DEV_A and DEV_B.
xfer() {
	local ga gb

	ga=$(gid_index "" "$1" "$2") || return 1
	gb=$(gid_index "" "$3" "$4") || return 1
	timeout 300 "$HELPERS/arxe-xfer" "$1" "$ga" "$3" "$gb"
}

arxe_link_delete() {
	rdma link delete arxe0 || return 1
	[ ! -e /sys/class/infiniband/arxe0 ] || fail "arxe0 still exists"
	if rdma link show arxe0/1 2>/dev/null; then
		fail "rdma still shows arxe0"
	fi
	kernel_clean
}

rmmod_keeps_rxe() {
	rdma link add arxe1 type arxe netdev eth0 || return 1
	port_active "" arxe1 || return 1
	rmmod arxe || return 1
	grep -q '^arxe ' /proc/modules && fail "arxe still loaded"
	[ ! -e /sys/class/infiniband/arxe1 ] || fail "arxe1 survived rmmod arxe"
	[ -e /sys/class/infiniband/rxe0 ] || fail "rmmod arxe removed the stock rxe0"
	pingpong peer rxe0 "$P_IP" peer rxe0
}

tap_begin
t nic-behind-translating-intel-iommu nic_setup_is e1000e intel
t setup-two-nodes setup_two_nodes
t arxe-module-loads module_loads
t rxe-module-loads-beside-arxe rxe_loads_beside
t arxe0-link-active arxe_link_active
t arxe-link-refuses-bad-input arxe_link_refuses_bad_input
t ibv-devinfo-through-libarxe devinfo_through_libarxe
t arxe0-rc-pingpong pingpong "" arxe0 "$A_IP" "" arxe0
t arxe0-xfer-byte-exact xfer arxe0 "$A_IP" arxe0 "$A_IP"
t arxe0-ib-write-bw perftest_pair ib_write_bw "" arxe0 "$A_IP" "" arxe0
t arxe0-ib-read-bw perftest_pair ib_read_bw "" arxe0 "$A_IP" "" arxe0
t arxe0-ib-send-bw perftest_pair ib_send_bw "" arxe0 "$A_IP" "" arxe0
t rxe0-link-active-beside-arxe0 rxe_link_active
t rxe0-rc-pingpong pingpong peer rxe0 "$P_IP" peer rxe0
t rxe0-xfer-byte-exact xfer rxe0 "$P_IP" rxe0 "$P_IP"
t rxe0-ib-write-bw perftest_pair ib_write_bw peer rxe0 "$P_IP" peer rxe0
t rxe0-ib-read-bw perftest_pair ib_read_bw peer rxe0 "$P_IP" peer rxe0
t rxe0-ib-send-bw perftest_pair ib_send_bw peer rxe0 "$P_IP" peer rxe0
t pkg-config-builds-arxedv-program arxedv_program_builds
t arxe0-link-delete-clean arxe_link_delete
t rmmod-arxe-keeps-stock-rxe0 rmmod_keeps_rxe
t kernel-log-clean kernel_clean
tap_end
