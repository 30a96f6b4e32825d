#!/bin/bash
# tools/guest on a boot that hangs before its command starts (init sleeps):
# the boot watchdog must kill it within --boot-timeout, retry once, fail,
# and say that the boot hung and where.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

start=$SECONDS
if "$top/tools/guest" --timeout 600 --boot-timeout 15 --out "$out" \
	--append "init=/bin/sleep -- 3600" true 2>"$out/stderr"; then
	echo "FAIL: tools/guest succeeded on a guest whose init sleeps"
	exit 1
fi
took=$((SECONDS - start))
cat "$out/stderr"
echo "tools/guest gave up after ${took}s"
grep -q 'did not boot (the boot hung: no command start within 15s, last console line: .*); retrying once' \
	"$out/stderr" || { echo "FAIL: the hang was not named on the first boot"; exit 1; }
grep -qE 'did not boot twice \((the boot hung: no command start within 15s|the kernel died while booting: Oops)' \
	"$out/stderr" || { echo "FAIL: the final error does not say why"; exit 1; }
# Two boots of 15 s each, plus QEMU's start and stop: far below --timeout.
[ "$took" -lt 180 ] || { echo "FAIL: the watchdog took ${took}s for two hung boots"; exit 1; }
echo "ok: a hung boot is killed within --boot-timeout, retried once and reported with its reason"
