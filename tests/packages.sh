#!/bin/bash
# The Debian packages (build/packages, the target "packages") as a user of
# a Debian system meets them, in the target root with arxe taken out of it:
# lintian has nothing to say of them, apt installs them from the
# files, arxe-dkms's postinst builds arxe.ko with DKMS for both of the
# root's kernels, a program using arxedv_query_mr() builds with pkg-config
# alone and links against the packaged library, the man pages render, and
# purging the packages leaves nothing behind. Prints TAP.
#
#   tests/packages.sh BUILD_DIR
#
# The root itself stays as it is: the test works in an overlay of it
# (overlayfs, the root as the lower layer) that it throws away at the end.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: tests/packages.sh BUILD_DIR}" && pwd)
# shellcheck source=tools/lib.sh
. "$top/tools/lib.sh"
need_root "tests/packages.sh"
mkdir -p "$build/packages-test"
export TAP_FILE=$build/packages-test/results.tap
# shellcheck source=tests/guest/lib.sh
. "$top/tests/guest/lib.sh"

root=$(current_root)
kver=$(root_kver "$root")
second=${kver%-amd64}-rt-amd64
version=$(sed -n 's/^project(arxe VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
ovl=$ARXE_CACHE/packages-test
top_dir=$ovl/merged
debs=(arxe-dkms_"$version"_all.deb libarxe1_"$version"_amd64.deb libarxe-dev_"$version"_amd64.deb)
overlay_down() {
	[ -d "$top_dir" ] || return 0
	chroot_umount "$top_dir"
	if mountpoint -q "$top_dir"; then
		umount "$top_dir" || umount -l "$top_dir"
	fi
	rm -rf "$ovl"
}
trap overlay_down EXIT

in_root() {
	chroot "$top_dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"
}

packages_built() {
	local d

	for d in "${debs[@]}"; do
		[ -s "$build/packages/$d" ] || fail "no $d in $build/packages (cmake --build build --target packages)"
	done
}

# lintian, as sid has it, on the three packages: any tag it prints, of any
# severity (pedantic and experimental ones too), fails the test.
lintian_clean() {
	local out rc

	rm -rf "$root/var/tmp/arxe-packages"
	mkdir -p "$root/var/tmp/arxe-packages"
	cp "${debs[@]/#/$build/packages/}" "$root/var/tmp/arxe-packages/"
	out=$(chroot "$root" env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 \
		lintian --fail-on error,warning,info,pedantic,experimental \
		--display-info --pedantic --display-experimental \
		"${debs[@]/#//var/tmp/arxe-packages/}" 2>&1)
	rc=$?
	echo "$out" | tee "$build/packages-test/lintian.txt"
	rm -rf "$root/var/tmp/arxe-packages"
	[ "$rc" -eq 0 ] || fail "lintian reports tags"
}

# The root as a machine without arxe: an overlay of it, with the files
# tools/build put in by hand removed.
overlay_up() {
	local f

	overlay_down
	mkdir -p "$ovl/upper" "$ovl/work" "$top_dir"
	mount -t overlay overlay -o "lowerdir=$root,upperdir=$ovl/upper,workdir=$ovl/work" \
		"$top_dir" || fail "cannot mount an overlay of the root" || return 1
	chroot_mount "$top_dir"
	while read -r f; do
		# shellcheck disable=SC2086 # the globs in the list
		rm -f "$top_dir"/$f
	done < <(arxe_hand_installed "$kver")
	# linux-source's tarball only, as the package leaves it (tools/mkroot
	# unpacks part of it for arxe's own build)
	find "$top_dir/usr/src" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*' -exec rm -rf {} +
	in_root depmod -a "$kver" || return 1
	in_root pkg-config --exists arxe && fail "arxe.pc is still there"
	installed_files "$top_dir" >"$ovl/before.txt"
	mkdir -p "$top_dir/tmp/user/build/packages"
	cp "${debs[@]/#/$build/packages/}" "$top_dir/tmp/user/build/packages/"
	echo 'APT::Get::Assume-Yes "true";' >"$top_dir/etc/apt/apt.conf.d/90arxe-test-yes"
}

# README's install command, run as written from a directory that holds
# build/packages (apt answered yes, as the user would).
apt_installs() {
	local cmd

	cmd=$(README=$top/README.md readme_block "Installing the Debian packages" 1)
	[[ "$cmd" == "apt install ./build/packages/arxe-dkms_${version}_all.deb "* ]] ||
		fail "README's install command is not apt install of the packages: $cmd" || return 1
	echo "\$ $cmd"
	in_root sh -c "cd /tmp/user && $cmd" >"$ovl/apt-install.log" 2>&1 || {
		tail -n 30 "$ovl/apt-install.log"
		fail "README's apt install of the packages failed"
		return 1
	}
	grep -E 'arxe|dkms' "$ovl/apt-install.log" | tail -n 20
	# everything the packages depend on is in the root already
	grep -E '^Get:[0-9]+ [a-z]+://' "$ovl/apt-install.log" && fail "apt downloaded packages"
	in_root dpkg-query -W arxe-dkms libarxe1 libarxe-dev
}

# DKMS built and installed arxe.ko for both kernels (the second has only
# its headers: no modules beside arxe's); modprobe finds it for the first.
dkms_built_both() {
	local k

	in_root dkms status
	for k in "$kver" "$second"; do
		in_root dkms status -m arxe -v "$version" -k "$k" | grep -q ': installed' ||
			fail "arxe-dkms did not install arxe.ko for $k"
		compgen -G "$top_dir/lib/modules/$k/updates/dkms/arxe.ko*" >/dev/null ||
			fail "no arxe.ko in /lib/modules/$k/updates/dkms"
	done
	in_root modprobe -S "$kver" --show-depends arxe | tail -n 1 |
		grep -q "updates/dkms/arxe.ko" || fail "modprobe -S $kver does not resolve arxe to DKMS's module"
}

# A program of a user of libarxe: pkg-config alone, no environment; it
# links libarxe.so.1 of the package and libibverbs finds the provider.
pkgconfig_builds() {
	local flags

	flags=$(in_root pkg-config --cflags --libs arxe) || fail "pkg-config knows no arxe" || return 1
	echo "pkg-config --cflags --libs arxe: $flags"
	cp "$top/tests/guest/pkgconfig/query_mr.c" "$top_dir/tmp/query_mr.c"
	# shellcheck disable=SC2086 # pkg-config's words
	in_root gcc-16 -Wall -Werror -o /tmp/query_mr /tmp/query_mr.c $flags ||
		fail "query_mr.c does not build with pkg-config's flags" || return 1
	in_root ldd /tmp/query_mr | grep -q 'libarxe.so.1 => /usr/lib/x86_64-linux-gnu/libarxe.so.1' ||
		fail "query_mr does not link the packaged libarxe.so.1"
	in_root dpkg -S /usr/lib/x86_64-linux-gnu/libibverbs/libarxe-rdmav65.so \
		/etc/libibverbs.d/arxe.driver || fail "libarxe1 does not own the provider's plugin and driver file"
}

man_pages_render() {
	local page

	for page in "7 arxe" "3 arxedv_query_mr"; do
		# shellcheck disable=SC2086 # section and name
		in_root man -w $page || fail "man finds no $page"
		# shellcheck disable=SC2086
		in_root env MANWIDTH=80 man --warnings $page 2>&1 >/dev/null | grep . &&
			fail "man $page warns"
	done
	in_root env MANWIDTH=80 man 7 arxe | grep -A1 '^NAME' | grep -q 'arxe .*soft-RoCE' ||
		fail "arxe(7) has no NAME line"
}

# Purging the packages removes the module of each kernel, DKMS's tree and
# every file they installed: the root's files are as before the install,
# but for the key DKMS made to sign modules with (/var/lib/dkms/mok.*),
# which is DKMS's, for every module it builds.
purge_leaves_nothing() {
	local cmd

	cmd=$(README=$top/README.md readme_block "Installing the Debian packages" 2)
	[[ "$cmd" == "apt purge arxe-dkms libarxe1 libarxe-dev" ]] ||
		fail "README's remove command is not apt purge of the packages: $cmd" || return 1
	echo "\$ $cmd"
	in_root sh -c "$cmd" >"$ovl/apt-purge.log" 2>&1 || {
		tail -n 30 "$ovl/apt-purge.log"
		fail "README's apt purge failed"
		return 1
	}
	rm -rf "$top_dir/tmp/user" "$top_dir/tmp/query_mr" "$top_dir/tmp/query_mr.c" \
		"$top_dir/etc/apt/apt.conf.d/90arxe-test-yes"
	installed_files "$top_dir" | grep -v '^var/lib/dkms/mok\.\(key\|pub\)$' >"$ovl/after.txt"
	if ! diff -u "$ovl/before.txt" "$ovl/after.txt"; then
		fail "the packages left files behind (+) or took the root's (-)"
	fi
}

t packages-built packages_built
t lintian-clean lintian_clean
t overlay-without-arxe overlay_up
t apt-installs-the-files apt_installs
t dkms-built-both-kernels dkms_built_both
t pkg-config-builds-arxedv-program pkgconfig_builds
t man-pages-render man_pages_render
t purge-leaves-nothing purge_leaves_nothing
tap_end
