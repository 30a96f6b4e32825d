#!/bin/bash
# tools/guest on a guest that cannot boot (its init exits at once): it must
# retry once, fail, and say that and why.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if "$top/tools/guest" --timeout 120 --out "$out" --append "init=/bin/false" true 2>"$out/stderr"; then
	echo "FAIL: tools/guest succeeded on a guest whose init is /bin/false"
	exit 1
fi
cat "$out/stderr"
grep -q 'did not boot (.*); retrying once' "$out/stderr" ||
	{ echo "FAIL: no retry announced"; exit 1; }
# The reason is the kernel's: its panic on init's exit, or, when QEMU's TCG
# hits its rare early int3 oops on the retry, that oops.
grep -qE 'did not boot twice \(the kernel died while booting: (Kernel panic|Oops)' "$out/stderr" ||
	{ echo "FAIL: the final error does not say why"; exit 1; }
echo "ok: a failed boot is retried once and reported with its reason"
