# Shared helpers of tools/dev (POSIX sh, sourced).

say() { printf 'kairos: %s\n' "$*" >&2; }
die() { printf 'kairos: error: %s\n' "$*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "$1 needs root (it uses chroot, mount namespaces and BPF); run it as root or with sudo"
}

need_tool() {
	command -v "$1" >/dev/null 2>&1 || die "required tool '$1' not found${2:+: $2}"
}

# 'native' when this host can build and run everything itself: a sched_ext
# kernel with its headers and a new enough toolchain. KAIROS_MODE forces it.
detect_mode() {
	case ${KAIROS_MODE:-auto} in
	native | rootfs) echo "$KAIROS_MODE"; return ;;
	auto) ;;
	*) die "KAIROS_MODE must be auto, native or rootfs, not '$KAIROS_MODE'" ;;
	esac
	if [ -e /sys/kernel/sched_ext/state ] &&
		[ -f "/lib/modules/$(uname -r)/build/Makefile" ] &&
		command -v cmake >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1 &&
		command -v bpftool >/dev/null 2>&1 &&
		pkg-config --atleast-version=1.4 libbpf 2>/dev/null &&
		[ "$(clang -dumpversion 2>/dev/null | cut -d. -f1)" -ge 17 ] 2>/dev/null; then
		echo native
	else
		echo rootfs
	fi
}
