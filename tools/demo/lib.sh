# Shared shell helpers (POSIX sh, sourced) of the demo and of the sched_ext
# benchmark (bench/kairosd/schedbench/): run cyclictest / stress-ng side by
# side under a given setup and extract latency percentiles and bogo-ops.
# Run as root on a sched_ext kernel; $build is the build directory.

CG=/sys/fs/cgroup
kairosd_pid=
kairosd_out=

# lat_run NAME SECONDS MODE [HOGS]: cyclictest (1 thread, 1 ms interval)
# in the LC cgroup kb-lc next to stress-ng --cpu HOGS (default: one per
# CPU; 0: no hog, the emulator's timer floor). MODE: other (SCHED_OTHER)
# or fifo (SCHED_FIFO prio 80). Leaves "p50 p99 max" in $tmp/NAME.lat and
# the hog's bogo-ops in $tmp/NAME.hog.
lat_run() {
	name=$1 secs=$2 mode=$3 hogs=${4:-$(nproc)}
	prio=
	[ "$mode" = fifo ] && prio="-p 80"
	spid=
	if [ "$hogs" -gt 0 ]; then
		stress-ng --cpu "$hogs" --timeout "$((secs + 2))" --metrics-brief \
			--temp-path /tmp >"$tmp/$name.stress" 2>&1 &
		spid=$!
	else
		: >"$tmp/$name.stress"
	fi
	sleep 1
	# shellcheck disable=SC2086
	sh -c "echo \$\$ > $CG/kb-lc/cgroup.procs && exec cyclictest -q -m -t 1 \
		-i 1000 $prio -D $secs -h 100000" >"$tmp/$name.cyc" 2>&1 || {
		cat "$tmp/$name.cyc" >&2
		return 1
	}
	[ -z "$spid" ] || wait $spid || { cat "$tmp/$name.stress" >&2; return 1; }
	hist_percentiles "$tmp/$name.cyc" >"$tmp/$name.lat"
	bogo_ops "$tmp/$name.stress" >"$tmp/$name.hog"
}

# be_run NAME SECONDS: stress-ng --cpu N alone (the LC app stays idle);
# bogo-ops in $tmp/NAME.hog.
be_run() {
	name=$1 secs=$2
	stress-ng --cpu "$(nproc)" --timeout "$secs" --metrics-brief \
		--temp-path /tmp >"$tmp/$name.stress" 2>&1 || {
		cat "$tmp/$name.stress" >&2
		return 1
	}
	bogo_ops "$tmp/$name.stress" >"$tmp/$name.hog"
}

# "p50 p99 max" (us) from cyclictest's -h histogram; overflows count as
# the histogram's limit.
hist_percentiles() {
	awk '
	/^[0-9]+[ \t]+[0-9]+/ { n = $1 + 0; c = $2 + 0; cnt[n] += c; tot += c; if (n > top) top = n }
	/# Histogram Overflows:/ { ov = $4 + 0; tot += ov }
	/# Max Latencies:/ { mx = $4 + 0 }
	END {
		if (tot == 0) { print "nan nan nan"; exit }
		cnt[100000] += ov
		acc = 0; p50 = -1; p99 = -1
		for (i = 0; i <= 100000; i++) {
			if (!(i in cnt)) continue
			acc += cnt[i]
			if (p50 < 0 && acc >= tot * 0.50) p50 = i
			if (p99 < 0 && acc >= tot * 0.99) { p99 = i; break }
		}
		printf "%d %d %d\n", p50, p99, mx
	}' "$1"
}

# Bogo-ops of the cpu stressor from stress-ng --metrics-brief output.
bogo_ops() {
	awk '/metrc:/ && $4 == "cpu" { print $5; found = 1 } END { if (!found) print 0 }' "$1"
}

# require_no_scheduler NAME: refuse to run unless this is a sched_ext
# kernel with no scheduler attached (the baselines need the default one).
require_no_scheduler() {
	[ "$(cat /sys/kernel/sched_ext/state 2>/dev/null)" = disabled ] || {
		echo "$1: needs a sched_ext kernel with no scheduler loaded" >&2
		exit 1
	}
}

# lc_cgroup: the LC cgroup kb-lc, annotated with one guaranteed core.
lc_cgroup() {
	mkdir -p $CG/kb-lc
	"$build/tools/kairosctl/kairosctl" annotate kb-lc --class lc \
		--guaranteed 1 --burstable 1 >/dev/null
}

lc_cgroup_remove() {
	[ -d $CG/kb-lc ] || return 0
	echo 1 >$CG/kb-lc/cgroup.kill 2>/dev/null || true
	sleep 0.2
	rmdir $CG/kb-lc 2>/dev/null || true
}

kairos_start() {
	kairosd_out=$tmp/kairosd.out
	"$build/kairosd/kairosd" >"$kairosd_out" 2>&1 &
	kairosd_pid=$!
	i=0
	while [ "$(cat /sys/kernel/sched_ext/state)" != enabled ] ||
		! grep -q "granted to app" "$kairosd_out"; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $kairosd_pid 2>/dev/null; then
			cat "$kairosd_out" >&2
			echo "kairosd did not start" >&2
			return 1
		fi
		sleep 0.1
	done
}

kairos_stop() {
	[ -n "$kairosd_pid" ] || return 0
	kill -TERM $kairosd_pid
	wait $kairosd_pid || { cat "$kairosd_out" >&2; return 1; }
	kairosd_pid=
}

# ratio A B -> A/B with two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
