# The project's root filesystem: Debian trixie with the toolchain and the
# sched_ext kernel, cached under a path keyed by the package list.
# (POSIX sh, sourced by tools/dev.)

ROOTFS_RECIPE=1		# bump when the way the root is made changes
ROOTFS_SUITE=trixie
CACHE_DIR=${KAIROS_CACHE_DIR:-/var/cache/kairos}
ROOTFS_MARKER=.kairos-rootfs-complete

rootfs_packages() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$KAIROS_SRC/tools/rootfs/packages.txt"
}

# The package list and the script that builds tools from the kernel sources.
rootfs_key() {
	{
		echo "recipe $ROOTFS_RECIPE $ROOTFS_SUITE $(uname -m)"
		rootfs_packages
		cat "$KAIROS_SRC/tools/rootfs/kernel-tools.sh"
	} |
		sha256sum | cut -c1-12
}

rootfs_path() { echo "$CACHE_DIR/rootfs-$(rootfs_key)"; }

# Debian mirror the host's apt already uses (never hard-coded here).
host_mirror() {
	if [ -n "${KAIROS_DEBIAN_MIRROR:-}" ]; then
		echo "$KAIROS_DEBIAN_MIRROR"
		return
	fi
	{
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n'
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p'
	} | grep -v security | grep -E '/debian/?$' | head -n 1
}

# Refuses to delete anything that still has a mount inside it.
remove_tree() {
	[ -e "$1" ] || return 0
	if awk -v p="$1/" 'index($5 "/", p) == 1 { found = 1 } END { exit !found }' \
		/proc/self/mountinfo; then
		die "$1 still has file systems mounted inside it; unmount them (umount -R) and retry"
	fi
	rm -rf --one-file-system "$1"
}

# Problems of a completed root, one per line; empty when it is usable.
rootfs_problems() {
	r=$1
	for f in usr/bin/clang usr/sbin/bpftool usr/bin/vng usr/bin/cmake \
		usr/bin/ninja usr/bin/qemu-system-x86_64 usr/lib/x86_64-linux-gnu/libbpf.so \
		usr/local/share/kairos/checkpatch/checkpatch.pl usr/local/bin/veristat; do
		[ -e "$r/$f" ] || echo "missing /$f"
	done
	ls "$r"/boot/vmlinuz-* >/dev/null 2>&1 || echo "missing /boot/vmlinuz-*"
	ls "$r"/lib/modules/*/build/Makefile >/dev/null 2>&1 || echo "missing kernel headers"
	[ "$(cat "$r/$ROOTFS_MARKER" 2>/dev/null)" = "$(rootfs_key)" ] || echo "marker does not match the package list or tools/rootfs/kernel-tools.sh"
}

# Runs CMD (a shell command line) inside ROOT with /proc, /sys, /dev and the
# source tree mounted; the mounts live in a private namespace and vanish
# with the command, even when it is killed.
rootfs_exec() {
	r=$1
	shift
	unshare --mount --propagation private -- /bin/sh -c '
		set -e
		r=$1 src=$2 cmd=$3
		mount -t proc proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount --rbind /dev "$r/dev"
		mkdir -p "$r$src"
		mount --bind "$src" "$r$src"
		cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
		exec chroot "$r" /usr/bin/env \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 /bin/sh -c "cd \"$2\" && $3"
	' kairos-rootfs "$r" "$KAIROS_SRC" "$*"
}

rootfs_build() {
	part=$1
	mirror=$(host_mirror)
	[ -n "$mirror" ] || die "cannot find the Debian mirror in /etc/apt sources; set KAIROS_DEBIAN_MIRROR"
	if ! command -v debootstrap >/dev/null 2>&1; then
		say "installing debootstrap on the host"
		apt-get update -qq >/dev/null 2>&1 ||
			die "apt-get update failed: is the network (the Debian mirror) reachable?"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
			die "could not install debootstrap with apt-get"
	fi
	need_tool debootstrap
	say "creating the $ROOTFS_SUITE root filesystem in $part (from $mirror)"
	log=$CACHE_DIR/setup.log
	: >"$log"
	unshare --mount --propagation private -- \
		debootstrap --variant=minbase "$ROOTFS_SUITE" "$part" "$mirror" >>"$log" 2>&1 ||
		die "debootstrap failed (is the network reachable? see $log)"

	cat >"$part/etc/apt/sources.list.d/kairos-backports.sources" <<-EOS
	Types: deb
	URIs: $mirror
	Suites: $ROOTFS_SUITE-backports
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOS
	# No services start inside the root (memcached, ...).
	printf '#!/bin/sh\nexit 101\n' >"$part/usr/sbin/policy-rc.d"
	chmod +x "$part/usr/sbin/policy-rc.d"

	pkgs=$(rootfs_packages | tr '\n' ' ')
	say "installing the toolchain and the sched_ext kernel (a few minutes)"
	rootfs_exec "$part" "apt-get update -qq >>/var/log/kairos-setup.log 2>&1 &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-t $ROOTFS_SUITE-backports $pkgs >>/var/log/kairos-setup.log 2>&1" ||
		{
			cp "$part/var/log/kairos-setup.log" "$log" 2>/dev/null
			die "installing packages in the root filesystem failed (network? see $log)"
		}
	say "unpacking checkpatch.pl and building veristat from the kernel sources"
	rootfs_exec "$part" 'sh tools/rootfs/kernel-tools.sh &&
		rm -f /usr/src/linux-source-*.tar.* &&
		apt-get clean' >>"$log" 2>&1 ||
		die "could not unpack checkpatch.pl or build veristat (see $log)"
	rootfs_key >"$part/$ROOTFS_MARKER"
}

# setup [--rebuild]: make sure the cached root exists and is whole.
rootfs_setup() {
	need_root "setup"
	for t in unshare chroot flock sha256sum df awk; do need_tool "$t"; done
	mkdir -p "$CACHE_DIR" || die "cannot create the cache directory $CACHE_DIR"
	root=$(rootfs_path)
	exec 9>"$CACHE_DIR/.lock"
	flock 9 || die "cannot lock $CACHE_DIR/.lock"

	if [ "${1:-}" = --rebuild ]; then
		say "removing $root as asked"
		remove_tree "$root"
	fi
	if [ -f "$root/$ROOTFS_MARKER" ]; then
		problems=$(rootfs_problems "$root")
		if [ -n "$problems" ]; then
			die "the cached root filesystem $root is broken:
$problems
Rebuild it with: tools/dev setup --rebuild"
		fi
		say "root filesystem ready (cached): $root"
		exec 9>&-
		return 0
	fi
	# Whatever is there without the marker is an interrupted attempt.
	for stale in "$root" "$root.partial"; do
		if [ -e "$stale" ]; then
			say "removing an interrupted setup: $stale"
			remove_tree "$stale"
		fi
	done
	need_gb=${KAIROS_MIN_FREE_GB:-8}
	free_kb=$(df -Pk "$CACHE_DIR" | awk 'NR == 2 { print $4 }')
	[ "$free_kb" -ge $((need_gb * 1024 * 1024)) ] ||
		die "not enough disk space in $CACHE_DIR: $((free_kb / 1024 / 1024)) GiB free, $need_gb GiB needed (set KAIROS_CACHE_DIR to another disk)"

	start=$(date +%s)
	rootfs_build "$root.partial"
	problems=$(rootfs_problems "$root.partial")
	[ -z "$problems" ] || die "the new root filesystem is incomplete:
$problems
(see $CACHE_DIR/setup.log)"
	mv "$root.partial" "$root"
	say "root filesystem ready in $(($(date +%s) - start)) s: $root"
	exec 9>&-
}
