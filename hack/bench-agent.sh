#!/usr/bin/env bash
# Measures the agent's own cost while it idles: CPU (share of one core) and
# RSS, on a fake kubelet-shaped cgroup tree with 0 pods (the baseline) and
# with 200 pods, in the same run. Goal: under 0.5% of one core and 30 MiB RSS
# at 200 pods. Usage: hack/bench-agent.sh [SECONDS] (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
go build -o bin/ ./cmd/bigbox-agent ./hack/faketree ./hack/tickfloor
work=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

ticks=$(getconf CLK_TCK)

# cputime PID: utime+stime in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the ")" that ends the command name).
cputime() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }

# measure NAME PODS: prints "NAME pods cpu_percent rss_mib".
measure() {
	local name=$1 pods=$2 tree="$work/$1"
	bin/faketree -dir "$tree" -version 1 -online $((pods / 10)) -offline $((pods - pods / 10))
	bin/bigbox-agent --standalone --cgroup-root "$tree" --kubepods-cgroup kubepods \
		--listen 127.0.0.1:0 --state-file "" --log-level warn 2>"$work/$name.log" &
	pid=$!
	sleep 5 # start-up and the first scans are not idling
	local t0 c0 t1 c1
	t0=$(date +%s.%N); c0=$(cputime "$pid")
	sleep "$secs"
	t1=$(date +%s.%N); c1=$(cputime "$pid")
	local rss anon
	rss=$(rss_kib "$pid")
	anon=$(anon_kib "$pid")
	kill "$pid"; wait "$pid" || true; pid=""
	awk -v n="$name" -v p="$pods" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" -v rss="$rss" -v anon="$anon" \
		'BEGIN { printf "%-9s %5d pods  cpu %.3f%% of one core  rss %.1f MiB (anon %.1f MiB)\n", n, p, 100 * (c1 - c0) / hz / (t1 - t0), rss / 1024, anon / 1024 }'
}

# floor: a Go process that only wakes every 50ms, what polling at the CPU
# loop's rate costs on this machine before any work.
floor() {
	bin/tickfloor --interval 50ms &
	pid=$!
	sleep 2
	local t0 c0 t1 c1
	t0=$(date +%s.%N); c0=$(cputime "$pid")
	sleep "$secs"
	t1=$(date +%s.%N); c1=$(cputime "$pid")
	kill "$pid"; wait "$pid" || true; pid=""
	awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" \
		'BEGIN { printf "%-9s %5s       cpu %.3f%% of one core  (a bare 50ms Go ticker)\n", "floor", "-", 100 * (c1 - c0) / hz / (t1 - t0) }'
}

echo "agent idle cost over ${secs}s (cpu loop 50ms, scan 1s):"
floor
base=$(measure baseline 0); echo "$base"
load=$(measure pods200 200); echo "$load"
awk -v b="$base" -v l="$load" 'BEGIN {
	split(b, bb, " "); split(l, ll, " ");
	bc = bb[5]; lc = ll[5]; sub("%", "", bc); sub("%", "", lc);
	printf "ratio 200 pods / baseline: cpu %.2fx, rss %.2fx\n", (bc > 0 ? lc / bc : 0), ll[10] / bb[10] }'
