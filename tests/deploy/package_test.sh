#!/bin/sh
# package_test.sh BUILD_DIR SRC_DIR VERSION KERNEL_RELEASE
# The Debian packages end to end, with nothing taken from the build tree:
#  1. cpack builds kairos, libkairos-dev and kairos-dkms;
#  2. they are installed with dpkg into a fresh root: an overlay of this
#     build environment's Debian trixie root without the source and build
#     trees (they are separate mounts, which an overlay does not show), where
#     DKMS builds kairos.ko against the target kernel's headers and an app
#     builds against the installed libkairos (find_package and pkg-config);
#  3. the target (sched_ext) kernel boots with that root: the installed
#     module loads, the installed kairosd attaches the scheduler and
#     follows an annotation made by the installed kairosctl;
#  4. dpkg --purge removes all of it, DKMS's module included.
# Runs in the build environment as root; boots its own VM (hold the test
# lock). Sizes and times are printed, never asserted.
set -u
build=$1 src=$2 version=$3 krel=$4
work=$build/package-test
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
now() { date +%s; }

rm -rf "$work"
mkdir -p "$work/upper" "$work/ovl-work" "$work/root" "$work/out"

# ---- 1. packages ------------------------------------------------------------
t0=$(now)
(cd "$build" && cpack --config CPackConfig.cmake) >"$work/cpack.log" 2>&1 ||
	{ cat "$work/cpack.log"; echo "FAIL: cpack"; exit 1; }
arch=$(dpkg --print-architecture)
deb_kairos=$build/packages/kairos_${version}-1_$arch.deb
deb_dev=$build/packages/libkairos-dev_${version}-1_$arch.deb
deb_dkms=$build/packages/kairos-dkms_${version}-1_all.deb
for d in "$deb_kairos" "$deb_dev" "$deb_dkms"; do
	[ -f "$d" ] || { ls "$build/packages"; echo "FAIL: no $d"; exit 1; }
	echo "package: ${d##*/} $(stat -c %s "$d") bytes"
done
echo "cpack: $(($(now) - t0)) s"
dpkg-deb -f "$deb_kairos" Depends | grep -q libbpf ||
	fail "kairos: Depends has no libbpf (dpkg-shlibdeps): $(dpkg-deb -f "$deb_kairos" Depends)"

# ---- 2. a fresh root --------------------------------------------------------
# Everything below runs in a private mount namespace: the overlay and its
# mounts vanish with it.
cp "$deb_kairos" "$deb_dev" "$deb_dkms" "$work/"
cp -r "$src/tests/deploy/consumer" "$work/consumer"
cp "$src/tests/deploy/package_guest.sh" "$work/package_guest.sh"
unshare --mount --propagation unchanged /bin/sh -s "$work" "$version" "$krel" "$src" "$build" <<'EOS'
set -u
work=$1 version=$2 krel=$3 src=$4 build=$5
r=$work/root
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/ovl-work" "$r" ||
	{ echo "FAIL: overlay mount"; exit 1; }
mount -t proc proc "$r/proc"
mount --rbind /sys "$r/sys"
mount --rbind /dev "$r/dev"
mount -t tmpfs tmpfs "$r/tmp"
mkdir -p "$r/tmp/debs" "$r/tmp/consumer"
cp "$work"/*.deb "$r/tmp/debs/"
cp -r "$work/consumer/." "$r/tmp/consumer/"
# Nothing of the build: the source and build trees are absent there.
[ -z "$(ls -A "$r$src" 2>/dev/null)" ] || fail "the source tree is visible in the fresh root"
[ -e "$r$build/CMakeCache.txt" ] && fail "the build tree is visible in the fresh root"
in_root() { chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	LANG=C.UTF-8 /bin/sh -c "$1"; }
in_root 'dpkg -l kairos libkairos-dev kairos-dkms 2>/dev/null | grep -q ^ii' &&
	fail "Kairos packages already installed in the fresh root"

t0=$(date +%s)
in_root 'dpkg -i /tmp/debs/kairos-dkms_*.deb /tmp/debs/kairos_*.deb /tmp/debs/libkairos-dev_*.deb' \
	>"$work/dpkg-install.log" 2>&1 || { cat "$work/dpkg-install.log"; fail "dpkg -i"; }
echo "dpkg -i (with the DKMS build of kairos.ko): $(($(date +%s) - t0)) s"
grep -i 'error\|warning' "$work/dpkg-install.log" | head -5
for p in kairos libkairos-dev kairos-dkms; do
	in_root "dpkg-query -W -f='\${Status}' $p" | grep -q 'install ok installed' ||
		fail "$p is not installed"
done
st=$(in_root "dkms status -m kairos -v $version -k $krel")
echo "dkms: $st"
echo "$st" | grep -q installed || fail "DKMS did not install kairos.ko for $krel"
ko=$(in_root "modinfo -k $krel -n kairos" 2>/dev/null)
case $ko in
/lib/modules/$krel/updates/dkms/kairos.ko*) ;;
*) fail "modinfo -k $krel kairos: '$ko' (want the DKMS module)" ;;
esac
vm=$(in_root "modinfo -k $krel -F vermagic kairos")
case $vm in "$krel "*) ;; *) fail "kairos.ko vermagic '$vm' is not $krel" ;; esac
out=$(in_root 'kairosd --version; kairosctl --version; kairos-loadgen --version; kairos-sim --version')
echo "$out"
[ "$(echo "$out" | grep -c " $version\$")" = 4 ] || fail "--version of the installed binaries"
in_root 'systemd-analyze verify /usr/lib/systemd/system/kairosd.service /usr/lib/systemd/system/kairosd-kmod.service' \
	>"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify of the installed units"; }

# An app against the installed libkairos, both ways.
in_root 'cd /tmp/consumer && cmake -S . -B b -G Ninja >/tmp/c.log 2>&1 && cmake --build b >>/tmp/c.log 2>&1 &&
	b/consumer && b/consumer_net' || { cat "$r/tmp/c.log"; fail "find_package(Kairos) app"; }
in_root 'cd /tmp/consumer && g++ -std=c++20 consumer.cpp -o pc $(pkg-config --cflags --libs kairos) && ./pc &&
	gcc consumer_c.c -o pcc $(pkg-config --cflags --libs kairos) && ./pcc' || fail "pkg-config kairos app"

# ---- 3. the sched_ext kernel on that root -----------------------------------
if [ "$fails" = 0 ]; then
	# The guest's own /tmp is fresh: the script and its output travel in
	# a writable directory of their own.
	cp "$work/package_guest.sh" "$work/out/"
	t0=$(date +%s)
	timeout -k 15 900 vng --run "/boot/vmlinuz-$krel" --root "$r" --disable-kvm --cpus 2 \
		--memory 2G --rwdir "/tmp/kairos-test=$work/out" \
		--exec "sh /tmp/kairos-test/package_guest.sh $krel /tmp/kairos-test" \
		</dev/null >"$work/vm.log" 2>&1
	echo "VM on the fresh root: $(($(date +%s) - t0)) s"
	cat "$work/out/guest.log" 2>/dev/null
	grep -q '^guest: PASS' "$work/out/guest.log" 2>/dev/null ||
		{ tail -40 "$work/vm.log"; fail "in the VM"; }
fi

# ---- 4. removal -------------------------------------------------------------
in_root 'dpkg --purge libkairos-dev kairos kairos-dkms' >"$work/dpkg-purge.log" 2>&1 ||
	{ cat "$work/dpkg-purge.log"; fail "dpkg --purge"; }
for f in /usr/sbin/kairosd /usr/bin/kairosctl /usr/src/kairos-$version /etc/default/kairosd /etc/kairos \
	/usr/lib/systemd/system/kairosd.service /usr/include/kairos; do
	[ -e "$r$f" ] && fail "$f is still there after dpkg --purge"
done
ls "$r/lib/modules/$krel/updates/dkms/" 2>/dev/null | grep -q kairos &&
	fail "kairos.ko is still there after dpkg --purge"
in_root "dkms status -m kairos" | grep -q . && fail "DKMS still knows kairos after dpkg --purge"
exit "$fails"
EOS
rc=$?
fails=$((fails + rc))
[ "$fails" = 0 ] && echo "PASS: packages built, installed in a fresh root, run in the VM, purged"
[ "$fails" = 0 ] && rm -rf "$work"
exit "$fails"
