#!/bin/bash
# arxe-dkms as a user meets it, in the target root (a chroot): the DKMS
# tree `cmake --install --component dkms` makes is added, built and
# installed with dkms for the root's kernel and for a second kernel beside
# it (sid has one kernel version, 7.2, in flavours: the rt flavour's
# headers are installed too), modprobe resolves arxe to the module DKMS
# installed, and a kernel without the two-step DMA API fails the build
# with build-module's one line. Prints TAP.
#
#   tests/dkms.sh BUILD_DIR
#
# DKMS works in trees private to the test (/var/tmp/arxe-dkms in the
# root): the root's /usr/src, /var/lib/dkms and /lib/modules stay as they
# are.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: tests/dkms.sh BUILD_DIR}" && pwd)
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"
need_root "tests/dkms.sh"
mkdir -p "$build/guest/dkms"
export TAP_FILE=$build/guest/dkms/root.tap
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"

root=$(current_root)
kver=$(root_kver "$root")
second=$(basename "$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -name "${kver%-amd64}-rt-amd64" | head -n 1)")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$build/dkms.conf")
t=/var/tmp/arxe-dkms
trees=(--sourcetree "$t/src" --dkmstree "$t/dkms" --installtree "$t/lib/modules")
trap 'chroot_umount "$root"' EXIT
chroot_mount "$root"

# dk ACTION ARGS...: dkms ACTION on arxe/VERSION in the test's trees.
dk() {
	local action=$1

	shift
	chroot "$root" dkms "$action" "arxe/$version" "${trees[@]}" "$@"
}

tree_installed() {
	local d=$t/src/arxe-$version f

	rm -rf "${root:?}$t"
	mkdir -p "$root$t/stage" "$root$t/src" "$root$t/dkms" "$root$t/lib/modules"
	DESTDIR=$root$t/stage cmake --install "$build" --component dkms >/dev/null ||
		fail "cmake --install --component dkms failed" || return 1
	mv "$root$t/stage/usr/src/arxe-$version" "$root$t/src/"
	for f in dkms.conf build-module patches/series include/rdma/arxe-abi.h; do
		[ -e "$root$d/$f" ] || fail "the DKMS tree has no $f" || return 1
	done
	# the series creates arxe's own files too
	while read -r f; do
		[ -e "$root$d/patches/$f" ] || fail "the DKMS tree has no patches/$f" || return 1
	done <"$top/kernel/patches/series"
	[ -x "$root$d/build-module" ] || fail "build-module is not executable"
}

dkms_add() {
	dk add >/dev/null || return 1
	dk status | grep -q "^arxe/$version: added" ||
		fail "dkms status does not say arxe/$version is added"
}

# dkms_build_install KVER: build and install for KVER; the module's
# vermagic names KVER and it sits where modprobe looks.
dkms_build_install() {
	local k=$1 ko vermagic

	# with its own install tree DKMS looks for the headers there too
	dk build -k "$k" --kernelsourcedir "/lib/modules/$k/build" >"$root$t/build-$k.log" 2>&1 || {
		tail -n 20 "$root$t/build-$k.log"
		fail "dkms build for $k failed"
		return 1
	}
	mkdir -p "$root$t/lib/modules/$k"
	dk install -k "$k" --kernelsourcedir "/lib/modules/$k/build" >>"$root$t/build-$k.log" 2>&1 || fail "dkms install for $k failed" || return 1
	dk status -k "$k" | grep -q "installed" || fail "dkms status does not say installed for $k" || return 1
	ko=$(find "$root$t/lib/modules/$k" -name 'arxe.ko*' | head -n 1)
	[ -n "$ko" ] || fail "no arxe.ko installed for $k" || return 1
	vermagic=$(chroot "$root" modinfo -F vermagic "${ko#"$root"}")
	case "$vermagic" in
	"$k "*) ;;
	*) fail "arxe.ko for $k has vermagic '$vermagic'" ;;
	esac
}

# The root's own modules, with arxe from DKMS, as modprobe sees them in a
# module tree whose updates/ holds only DKMS's arxe.ko.
modprobe_finds_it() {
	local m=$t/lib/modules/$kver deps

	ln -sfn "/lib/modules/$kver/kernel" "$root$m/kernel"
	cp "$root/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$root$m/"
	chroot "$root" depmod -b "$t" "$kver" || fail "depmod of the DKMS tree failed" || return 1
	deps=$(chroot "$root" modprobe -d "$t" -S "$kver" --show-depends arxe) ||
		fail "modprobe does not find arxe" || return 1
	echo "$deps"
	grep -q "insmod $m/updates/dkms/arxe.ko" <<<"$deps" ||
		fail "modprobe does not load DKMS's arxe.ko" || return 1
	grep -q "/ib_core.ko" <<<"$deps" || fail "modprobe does not load ib_core before arxe"
}

# A kernel whose headers lack dma_iova_try_alloc: the root's headers with
# that API cut out of linux/dma-mapping.h, as a kernel of its own (a
# failed build for an installed kernel would make DKMS forget the install).
no_api_refused() {
	local fake=$t/no-api k=${kver%-amd64}-noapi-amd64 src log

	src=$(sed -n 's|^include \(/.*\)/Makefile$|\1|p' "$root/lib/modules/$kver/build/Makefile")
	mkdir -p "$root$fake/common/include/linux" "$root$t/lib/modules/$k"
	cp -a "$root/lib/modules/$kver/build/." "$root$fake/"
	sed -i "s|^include .*/Makefile\$|include $fake/common/Makefile|" "$root$fake/Makefile"
	grep -v dma_iova_try_alloc "$root$src/include/linux/dma-mapping.h" \
		>"$root$fake/common/include/linux/dma-mapping.h"
	if dk build -k "$k" --kernelsourcedir "$fake" >"$root$t/no-api.log" 2>&1; then
		fail "dkms built arxe for a kernel without the two-step DMA API"
		return 1
	fi
	cat "$root$t/no-api.log"
	log=$(find "$root$t/dkms/arxe/$version" -name make.log | head -n 1)
	grep -h "^arxe: " "$root$t/no-api.log" ${log:+"$log"} | sort -u
	grep -qh "^arxe: Linux $k lacks the two-step DMA API" "$root$t/no-api.log" ${log:+"$log"} ||
		fail "the failed build does not say the DMA API is missing"
}

removed_cleanly() {
	dk remove --all >/dev/null || fail "dkms remove failed" || return 1
	[ -z "$(find "$root$t/lib/modules" -name 'arxe.ko*')" ] || fail "dkms remove left an arxe.ko" || return 1
	[ ! -e "$root$t/dkms/arxe" ] || fail "dkms remove left its tree of arxe"
}

tap_begin
t dkms-tree-installed tree_installed
t dkms-add dkms_add
t dkms-build-install-root-kernel dkms_build_install "$kver"
if [ -n "$second" ]; then
	t dkms-build-install-second-kernel dkms_build_install "$second"
else
	t dkms-build-install-second-kernel fail "no rt-flavour headers of $kver in the root"
fi
t modprobe-finds-dkms-arxe modprobe_finds_it
t kernel-without-dma-api-refused no_api_refused
t dkms-remove-all removed_cleanly
tap_end
