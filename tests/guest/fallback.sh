#!/bin/bash
# Guest tests of arxe without a translating IOMMU (tools/guest --iommu
# none): iova and aligned MRs still register, report "fallback" with rxe's
# table, and move data byte for byte.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

setup() {
	ip addr add "$A_IP/24" dev eth0 && ip link set eth0 up || return 1
	modprobe arxe && rdma link add arxe0 type arxe netdev eth0 || return 1
	port_active "" arxe0
}

reports_fallback() {
	local fb0 fb1

	fb0=$(counter arxe0 xlate_fallbacks)
	xlate_set "$1" && hold_mr arxe0 1M anon 0 || return 1
	if ! expect_attrs xlate fallback dev_entries 256 dev_bytes 4096; then
		release_mr
		return 1
	fi
	release_mr
	fb1=$(counter arxe0 xlate_fallbacks)
	echo "xlate_fallbacks $fb0 -> $fb1"
	[ $((fb1 - fb0)) -eq 1 ] || fail "xlate_fallbacks did not count the fallback"
}

xfer_fallback() {
	local g

	xlate_set "$1" || return 1
	g=$(gid_index "" arxe0 "$A_IP") || return 1
	timeout 300 "$HELPERS/arxe-xfer" -m "$2" -o "$3" arxe0 "$g" arxe0 "$g"
}

tap_begin
t setup setup
t nic-without-iommu nic_setup_is e1000e none
t aligned-reports-fallback reports_fallback aligned
t iova-reports-fallback reports_fallback iova
t aligned-fallback-xfer-anon xfer_fallback aligned anon 0
t aligned-fallback-xfer-thp-odd-offset xfer_fallback aligned thp 4097
t kernel-log-clean kernel_clean
tap_end
