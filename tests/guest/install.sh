#!/bin/bash
# arxe installed from its Debian packages on a machine that never had it.
# The guest boots the image without arxe (tools/mkimage --bare: no arxe
# files, linux-source-7.2 as its tarball, the headers of the running
# kernel only), installs the three packages with README's apt install and
# uses arxe as a user would: arxe-dkms's postinst built arxe.ko for the
# running kernel, README's commands load it, create arxe0 and run
# ib_write_bw through it, ibv_rc_pingpong checks its data, a program
# calling arxedv_query_mr() builds with pkg-config alone and runs, and
# the man pages render. README's apt purge then leaves nothing behind, and
# README's install from source (the DKMS tree, dkms add, build and
# install) and its removal do the same for the module.
#
# Needs tools/guest --image $ARXE_CACHE/image-bare and the packages in
# /arxe/src/build/packages (cmake --build build). Prints TAP.
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

kver=$(uname -r)
packages=/arxe/src/build/packages
user=/tmp/user
# DKMS builds arxe.ko twice here, from the packages and from source, each
# taking minutes under TCG: with Debian's kernel ccache switch the second
# build reuses the first one's compiler output
export DEBIAN_KERNEL_USE_CCACHE=1 CCACHE_DIR=/tmp/ccache

# Nothing of arxe is here, and one kernel has headers (so DKMS builds once).
arxe_absent() {
	local builds

	modinfo arxe >/dev/null 2>&1 && fail "modinfo finds an arxe module"
	pkg-config --exists arxe && fail "pkg-config knows arxe"
	[ ! -e /etc/libibverbs.d/arxe.driver ] || fail "arxe.driver is installed"
	compgen -G "/usr/lib/x86_64-linux-gnu/libarxe*" && fail "libarxe is installed"
	[ ! -e "$HELPERS" ] || fail "the test helpers ($HELPERS) are in the image"
	compgen -G "/usr/src/linux-source-*/" && fail "linux-source is unpacked"
	builds=$(find /lib/modules -mindepth 2 -maxdepth 2 -name build | wc -l)
	[ "$builds" -eq 1 ] || fail "$builds kernels have headers, not one"
	[ -e "/lib/modules/$kver/build" ] || fail "no headers of the running kernel $kver"
	installed_files / >/tmp/files-before.txt
}

# README's install command as written, from a directory that holds
# build/packages (apt answers yes, as the user would). The guest has no
# network: everything the packages depend on is in the image.
apt_installs() {
	local cmd

	cmd=$(readme_block "Installing the Debian packages" 1)
	[[ "$cmd" == "apt install ./build/packages/"* ]] ||
		fail "README's install command is not apt install of the packages: $cmd" || return 1
	mkdir -p "$user/build/packages"
	cp "$packages"/*.deb "$user/build/packages/" || fail "no packages in $packages" || return 1
	echo 'APT::Get::Assume-Yes "true";' >/etc/apt/apt.conf.d/90arxe-test-yes
	echo "\$ $cmd"
	(cd "$user" && DEBIAN_FRONTEND=noninteractive timeout 1200 bash -c "$cmd") \
		>/tmp/apt-install.log 2>&1 || {
		tail -n 40 /tmp/apt-install.log
		fail "README's apt install failed"
		return 1
	}
	grep -E 'arxe|dkms|Setting up' /tmp/apt-install.log | tail -n 30
	dpkg-query -W arxe-dkms libarxe1 libarxe-dev
}

# arxe-dkms's postinst built and installed arxe.ko for the running kernel.
dkms_installed() {
	local path

	dkms status
	dkms status -m arxe -k "$kver" | grep -q ': installed' ||
		fail "DKMS did not install arxe for $kver" || return 1
	path=$(modinfo -n arxe) || fail "modinfo finds no arxe" || return 1
	echo "$path"
	case "$path" in
	"/lib/modules/$kver/updates/dkms/arxe.ko"*) ;;
	*) fail "modinfo finds arxe at $path, not DKMS's" ;;
	esac
}

# README's commands: create a device, then ib_write_bw through it in
# loopback (ADDRESS and N filled in).
readme_device_and_perftest() {
	local cmds

	ip addr add "$A_IP/24" dev eth0 || return 1
	cmds=$(readme_block "Creating a device" 1)
	grep -q '^ibv_devinfo -d arxe0$' <<<"$cmds" ||
		fail "README's block under Creating a device has no ibv_devinfo -d arxe0: '$cmds'" || return 1
	run_readme_lines <<<"$cmds" >/tmp/readme-device.txt 2>&1
	cat /tmp/readme-device.txt
	grep -q 'hca_id:[[:space:]]*arxe0' /tmp/readme-device.txt ||
		fail "ibv_devinfo -d arxe0 does not show arxe0 (is libarxe's provider found?)" || return 1
	port_active "" arxe0 >/dev/null || return 1
	readme_traffic
}

# The data arrives as sent (ibv_rc_pingpong -c checks every buffer).
pingpong_checks_data() {
	dev_pair 120 "" arxe0 "$A_IP" "" arxe0 -g "ibv_rc_pingpong -c -n 100"
}

man_pages_render() {
	local page

	for page in "7 arxe" "3 arxedv_query_mr"; do
		# shellcheck disable=SC2086 # section and name
		man -w $page || fail "man finds no $page"
		# shellcheck disable=SC2086
		MANWIDTH=80 man --warnings $page 2>&1 >/dev/null | grep . && fail "man $page warns"
	done
	MANWIDTH=80 man 7 arxe | grep -A1 '^NAME' | grep -q 'arxe .*soft-RoCE' ||
		fail "arxe(7) has no NAME line"
}

# README's purge as written, after the device and the module are gone:
# every file is as before the install, but for the key DKMS made to sign
# modules with (/var/lib/dkms/mok.*), which is DKMS's, for every module.
purge_leaves_nothing() {
	local cmd

	rdma link delete arxe0 || return 1
	modprobe -r arxe || return 1
	cmd=$(readme_block "Installing the Debian packages" 2)
	[ "$cmd" = "apt purge arxe-dkms libarxe1 libarxe-dev" ] ||
		fail "README's remove command is not apt purge of the packages: $cmd" || return 1
	echo "\$ $cmd"
	DEBIAN_FRONTEND=noninteractive timeout 600 bash -c "$cmd" >/tmp/apt-purge.log 2>&1 || {
		tail -n 30 /tmp/apt-purge.log
		fail "README's apt purge failed"
		return 1
	}
	rm -f /etc/apt/apt.conf.d/90arxe-test-yes
	installed_files / | grep -v '^var/lib/dkms/mok\.\(key\|pub\)$' >/tmp/files-after.txt
	diff -u /tmp/files-before.txt /tmp/files-after.txt ||
		fail "the packages left files behind (+) or took the machine's (-)"
	modinfo arxe >/dev/null 2>&1 && fail "modinfo still finds arxe"
	pkg-config --exists arxe && fail "pkg-config still knows arxe"
	ibv_devices
}

# README's install from source, as written, in a copy of the source tree
# (without its build directory, as a fresh checkout has none): cmake,
# the DKMS tree, dkms add, build and install for the running kernel, and
# modprobe loads DKMS's arxe.ko.
from_source_installs() {
	local cmds

	mkdir -p "$user/src" || return 1
	tar -C /arxe/src --exclude=./build --exclude=./.git -cf - . | tar -C "$user/src" -xf - ||
		fail "could not copy the source tree" || return 1
	cmds=$(readme_block "Installing from source" 1)
	grep -q '^dkms build arxe/' <<<"$cmds" || fail "README's from-source block: '$cmds'" || return 1
	(cd "$user/src" && README_TIMEOUT=1200 run_readme_lines) <<<"$cmds" >/tmp/from-source.log 2>&1 || {
		tail -n 40 /tmp/from-source.log
		return 1
	}
	grep -E '^\$ |arxe' /tmp/from-source.log | tail -n 30
	ccache -s | grep -Ei 'hits|misses'
	dkms status -m arxe -k "$kver" | grep -q ': installed' ||
		fail "DKMS did not install arxe for $kver" || return 1
	grep -q '^arxe ' /proc/modules || fail "arxe is not loaded" || return 1
	case "$(modinfo -n arxe)" in
	"/lib/modules/$kver/updates/dkms/arxe.ko"*) ;;
	*) fail "modinfo finds arxe at $(modinfo -n arxe), not DKMS's" ;;
	esac
}

# README's removal of the from-source install leaves every file as before
# the packages came (but DKMS's key, as above).
from_source_removed() {
	local cmds

	cmds=$(readme_block "Installing from source" 2)
	grep -q '^dkms remove arxe/' <<<"$cmds" || fail "README's removal block: '$cmds'" || return 1
	run_readme_lines <<<"$cmds" || return 1
	installed_files / | grep -v '^var/lib/dkms/mok\.\(key\|pub\)$' >/tmp/files-after-source.txt
	diff -u /tmp/files-before.txt /tmp/files-after-source.txt ||
		fail "the install from source left files behind (+) or took the machine's (-)"
	modinfo arxe >/dev/null 2>&1 && fail "modinfo still finds arxe"
	return 0
}

tap_begin
t arxe-absent-before arxe_absent
t apt-installs-the-packages apt_installs
t dkms-built-for-running-kernel dkms_installed
t readme-device-and-ib-write-bw readme_device_and_perftest
t rc-pingpong-checks-data pingpong_checks_data
t pkg-config-builds-arxedv-program arxedv_program_builds
t man-pages-render man_pages_render
t purge-leaves-nothing purge_leaves_nothing
t readme-from-source-dkms from_source_installs
t readme-from-source-removed from_source_removed
t kernel-log-clean kernel_clean
tap_end
