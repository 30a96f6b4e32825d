#!/bin/bash
# Guest side of the main job (until the full measurement suite exists):
# arxe0 (this namespace, eth0) and a stock rxe0 (namespace peer, eth1) side
# by side in one guest, the same perftest loopback runs on each, one table.
# Writes /arxe/out/summary.txt and the raw perftest output under
# /arxe/out/raw/.
set -euo pipefail
# shellcheck source=tests/guest/lib.sh
. /arxe/src/tests/guest/lib.sh

out=/arxe/out
mkdir -p "$out/raw"
setup_arxe_and_rxe >/dev/null || fail "cannot set up arxe0 and rxe0" || exit 1

# bw DEV NS IP TOOL: the average Gb/s of one 64 KiB loopback run on DEV.
bw() {
	local dev=$1 ns=$2 ip=$3 tool=$4

	perftest_pair "$tool" "$ns" "$dev" "$ip" "$ns" "$dev" >/dev/null ||
		fail "$tool on $dev failed" || return 1
	cp /tmp/client.log "$out/raw/$tool-$dev.txt"
	perftest_bw_avg /tmp/client.log 65536
}

{
	echo "perftest loopback, 64 KiB messages, 300 iterations, one guest under QEMU TCG"
	echo "(emulator figures: compare the two columns, not with real hardware)"
	printf '%-12s %14s %14s %12s\n' tool "arxe0 Gb/s" "rxe0 Gb/s" "arxe0/rxe0"
	for tool in ib_write_bw ib_read_bw ib_send_bw; do
		a=$(bw arxe0 "" "$A_IP" "$tool")
		r=$(bw rxe0 peer "$P_IP" "$tool")
		printf '%-12s %14s %14s %12s\n' "$tool" "$a" "$r" \
			"$(awk -v a="$a" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", a / r; else print "-" }')"
	done
} | tee "$out/summary.txt"
kernel_clean >/dev/null || fail "the kernel log shows a problem"
