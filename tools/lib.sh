# shellcheck shell=bash
# Shared helpers of arxe's tools. Sourced, never run.
#
# Everything arxe builds lives under ARXE_CACHE (default /var/cache/arxe),
# outside any clone, so that a fresh clone reuses the target root and the
# images of an earlier run.

ARXE_CACHE=${ARXE_CACHE:-/var/cache/arxe}
# shellcheck disable=SC2034 # used by the scripts that source this file
ARXE_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck disable=SC2034
# Packages of the target root (Debian sid). Later issues add to this list;
# the root is rebuilt when it or any candidate version changes.
ARXE_ROOT_PACKAGES=(
	linux-image-amd64 linux-headers-amd64 linux-source-7.2 initramfs-tools
	gcc-16 libc6-dev make patch perl xz-utils
	rdma-core ibverbs-providers ibverbs-utils rdmacm-utils perftest
	python3-pyverbs libibverbs-dev
	cmake ninja-build libnl-3-dev libnl-route-3-dev libudev-dev pkgconf
	iproute2 kmod iputils-ping procps
	nfs-kernel-server nvme-cli fio
	dkms linux-headers-rt-amd64 man-db pandoc linux-source lintian ccache
)

# shellcheck disable=SC2034
# Packages the host needs to build the root, pack images and run guests.
ARXE_HOST_PACKAGES=(
	debootstrap qemu-system-x86 ipxe-qemu seabios e2fsprogs xz-utils
	debian-archive-keyring shellcheck cmake gnuplot-nox cpio
)

# checkpatch.pl's options for arxe's kernel patches, beyond --strict. The
# series covers rxe's directory alone, so a patch that adds one of arxe's
# own files cannot add it to MAINTAINERS as well: checkpatch's question
# whether it should (FILE_PATH_CHANGES) is for when arxe goes into the
# kernel tree, and the cover letter says so.
# shellcheck disable=SC2034 # used by the scripts that source this file
ARXE_CHECKPATCH_SERIES="--ignore FILE_PATH_CHANGES"

# checkpatch_run ROOT OPTS FILES...: checkpatch.pl --strict OPTS over FILES
# (paths in ROOT), in ROOT's copy of the target kernel's source.
checkpatch_run() {
	local root=$1 opts=$2

	shift 2
	chroot "$root" sh -c "cd /usr/src/linux-source-7.2 &&
		perl scripts/checkpatch.pl --strict --quiet --no-summary $opts $*"
}

# arxe_checkpatch ROOT OUT OPTS FILES...: checkpatch FILES (host paths
# inside ROOT). checkpatch takes about as long to start as to read a file:
# one run over all of them, and only if that finds something one run per
# file, to name it: each file's findings go to OUT/NAME, or, if no file
# alone has any, the whole run's to OUT/whole-run. Fails if anything was
# found.
arxe_checkpatch() {
	local root=$1 out=$2 opts=$3 f

	shift 3
	mkdir -p "$out"
	checkpatch_run "$root" "$opts" "${@#"$root"}" >"$out/whole-run" 2>&1 &&
		rm -f "$out/whole-run" && return 0
	for f in "$@"; do
		checkpatch_run "$root" "$opts" "${f#"$root"}" >"$out/${f##*/}" 2>&1 &&
			rm -f "$out/${f##*/}"
	done
	if [ -n "$(find "$out" -type f ! -name whole-run)" ]; then
		rm -f "$out/whole-run"
	fi
	return 1
}

die() {
	echo "arxe: error: $*" >&2
	exit 1
}

note() {
	echo "arxe: $*" >&2
}

# apt_mirror [APT_ETC_DIR]
# Print the Debian mirror the host's apt uses: ARXE_MIRROR if set, else the
# first non-security "deb" URI of sources.list.d/*.sources (deb822) or of
# sources.list (one-line format). Fails if there is none.
apt_mirror() {
	local etc=${1:-/etc/apt}
	local f uri

	if [ -n "${ARXE_MIRROR:-}" ]; then
		echo "${ARXE_MIRROR%/}"
		return 0
	fi
	for f in "$etc"/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk '
			function flush() {
				if (deb && uri != "" && suites !~ /-security/) {
					print uri; found = 1; exit
				}
				deb = 0; uri = ""; suites = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { suites = $0 }
			END { if (!found) flush() }
		' "$f")
		if [ -n "$uri" ]; then
			echo "${uri%/}"
			return 0
		fi
	done
	for f in "$etc"/sources.list "$etc"/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '
			$1 != "deb" { next }
			{
				i = 2
				if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) ~ /-security/) next
				print $i; exit
			}
		' "$f")
		if [ -n "$uri" ]; then
			echo "${uri%/}"
			return 0
		fi
	done
	return 1
}

# cache_key WORDS...
# A short stable key for a list of inputs (versions, file hashes).
cache_key() {
	printf '%s\n' "$@" | sha256sum | cut -c1-16
}

# files_key FILES...
# The key of the contents of the given files, in the given order.
files_key() {
	cat "$@" | sha256sum | cut -c1-16
}

# Mount what a build or an apt run inside the root needs; undone by
# chroot_umount (callers set a trap).
chroot_mount() {
	local root=$1

	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
	mountpoint -q "$root/sys" || mount -t sysfs sys "$root/sys"
	mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
	mountpoint -q "$root/dev/pts" || mount -t devpts devpts "$root/dev/pts"
}

chroot_umount() {
	local root=$1 m

	for m in dev/pts dev sys proc; do
		if mountpoint -q "$root/$m"; then
			umount "$root/$m" || umount -l "$root/$m"
		fi
	done
}

# The current target root, as built by tools/mkroot.
current_root() {
	local link=$ARXE_CACHE/root

	[ -d "$link/usr" ] || die "no target root in $link: run tools/mkroot"
	readlink -f "$link"
}

# root_kver ROOT: the version of the kernel the root boots (the one
# linux-image installed in /boot; other versions may have only headers).
root_kver() {
	local images=("$1"/boot/vmlinuz-*)

	[ -f "${images[-1]}" ] || die "no kernel image in $1/boot"
	basename "${images[-1]}" | sed 's/^vmlinuz-//'
}

# arxe_hand_installed KVER: the files of arxe that tools/build installs into
# the target root by hand (and the packages install on a user's machine),
# as globs relative to the root, one a line: the module, the provider, its
# development files and the driver file.
arxe_hand_installed() {
	printf '%s\n' "lib/modules/$1/updates/arxe.ko" \
		usr/lib/x86_64-linux-gnu/libarxe.so usr/lib/x86_64-linux-gnu/libarxe.so.1 \
		'usr/lib/x86_64-linux-gnu/libarxe.so.1.0.*' \
		'usr/lib/x86_64-linux-gnu/libibverbs/libarxe-rdmav*.so' \
		usr/include/infiniband/arxedv.h usr/lib/x86_64-linux-gnu/pkgconfig/arxe.pc \
		etc/libibverbs.d/arxe.driver
}

# Ensure the running user can do what the tools need.
need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1 needs root (debootstrap, chroot, mounts)"
}

# guest_started CONSOLE_LOG: did the guest reach its command?
guest_started() {
	grep -q '^arxe-guest: start' "$1"
}

# boot_hang_reason CONSOLE_LOG SECONDS: say in one line that a boot hung,
# and where (the last line it printed).
boot_hang_reason() {
	local last

	last=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1 | cut -c1-160)
	echo "the boot hung: no command start within ${2}s, last console line: ${last:-none}"
}

# boot_failure_reason CONSOLE_LOG QEMU_STATUS TIMEOUT
# Say in one line why a guest that never reached its command failed.
boot_failure_reason() {
	local log=$1 status=$2 timeout=$3 line

	line=$(grep -m1 -E 'Kernel panic|Oops|BUG:|Unable to mount root|ALERT!' "$log" || true)
	if [ -n "$line" ]; then
		echo "the kernel died while booting: ${line#*] }"
	elif grep -q '^arxe-guest: cannot' "$log"; then
		echo "the guest init failed: $(grep -m1 '^arxe-guest: cannot' "$log")"
	elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "no sign of the guest command within ${timeout}s"
	elif [ ! -s "$log" ]; then
		echo "QEMU exited with status $status before the guest printed anything"
	else
		echo "QEMU exited with status $status: $(tail -n 1 "$log")"
	fi
}

# tcg_patch_race CONSOLE_LOG: succeed, printing the oops line, if the guest
# died of an int3 at a jump label whose patching had already ended (the
# Code: line after "Oops: int3" shows the site as the finished 5-byte NOP
# or jump): QEMU's multi-threaded TCG lets a CPU run a jump label's
# temporary int3 after the patching finished (README: Known defects).
tcg_patch_race() {
	awk '/Oops: int3/ { oops = $0; sub(/^\[[^]]*\] /, "", oops); next }
		oops != "" && /Code: / {
			if ($0 ~ /Code: .*(0f <1f> 44 00 00|e9 <[0-9a-f][0-9a-f]>)/) { print oops; found = 1; exit }
			oops = ""
		}
		END { exit !found }' "$1"
}

# tap_result FILE NAME: succeed if the TAP file reports "ok N - NAME";
# otherwise print its line and the comments under it (the tail of its output).
tap_result() {
	local file=$1 name=$2 line

	[ -f "$file" ] || {
		echo "no TAP results in $file (did the guest run?)"
		return 1
	}
	line=$(grep -E "^(not )?ok [0-9]+ - $name( |\$)" "$file" | head -n 1)
	case "$line" in
	"") echo "$name: no result in $file" ;;
	"not ok"*)
		# the comments the guest wrote below it: what failed, and why
		awk -v line="$line" '
			$0 == line { show = 1; print; next }
			show && /^#/ { print; next }
			show { exit }' "$file"
		;;
	ok*)
		echo "$line"
		return 0
		;;
	esac
	return 1
}
