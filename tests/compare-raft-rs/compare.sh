#!/usr/bin/env bash
# Interleaved runs of workload W on tinyraft and on raft-rs (batch_append on
# and off), then the median entries/s of each and the ratios; also W's floor
# (the workload's own work without any Raft: `bench floor`) and the ratio a
# library with a zero-cost Raft would reach against raft-rs.
#
#   tests/compare-raft-rs/compare.sh [RUNS] [NODES...]     (default: 5 runs; 3 5 7 9 voters)
#
# Builds both first (raft-rs takes minutes the first time; see README.md).
# Extra arguments for both binaries can be passed in BENCH_ARGS, e.g.
# BENCH_ARGS="--rounds 500".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-5}"
shift || true
nodes=("$@")
[ ${#nodes[@]} -gt 0 ] || nodes=(3 5 7 9)
target="${CARGO_TARGET_DIR:-$root/target}"

(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -q -p tinyraft-tests --bin bench)
(cd "$here" && CARGO_TARGET_DIR="$target/compare-raft-rs" cargo build --release -q)
tiny="$target/release/bench"
rrs="$target/compare-raft-rs/release/compare-raft-rs"

rate() { sed -n 's/.* = \([0-9]*\) entries\/s.*/\1/p'; }
rss() { sed -n 's/.*peak RSS \([0-9.]*\) MB.*/\1/p'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {print (b > 0) ? a / b : 0}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $(date -u +%Y-%m-%d)"
printf '%-6s %14s %14s %14s %9s %9s %22s %12s %10s\n' workload tinyraft raft-rs:batch raft-rs:nobatch "vs batch" "vs nobatch" "peak RSS MB (t/rb/rn)" "floor" "floor/rb"
for n in "${nodes[@]}"; do
  t=(); b=(); o=(); tm=(); bm=(); om=(); f=()
  for _ in $(seq "$runs"); do
    # shellcheck disable=SC2086
    l=$("$tiny" floor --nodes "$n" ${BENCH_ARGS:-}); f+=("$(rate <<<"$l")")
    # shellcheck disable=SC2086
    l=$("$tiny" w --nodes "$n" ${BENCH_ARGS:-}); t+=("$(rate <<<"$l")"); tm+=("$(rss <<<"$l")")
    # shellcheck disable=SC2086
    l=$("$rrs" w --nodes "$n" --batch-append on ${BENCH_ARGS:-}); b+=("$(rate <<<"$l")"); bm+=("$(rss <<<"$l")")
    # shellcheck disable=SC2086
    l=$("$rrs" w --nodes "$n" --batch-append off ${BENCH_ARGS:-}); o+=("$(rate <<<"$l")"); om+=("$(rss <<<"$l")")
  done
  mt=$(printf '%s\n' "${t[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median); mo=$(printf '%s\n' "${o[@]}" | median)
  rt=$(printf '%s\n' "${tm[@]}" | median); rb=$(printf '%s\n' "${bm[@]}" | median); ro=$(printf '%s\n' "${om[@]}" | median)
  mf=$(printf '%s\n' "${f[@]}" | median)
  printf '%-6s %14.0f %14.0f %14.0f %8.2fx %8.2fx %22s %12.0f %9.2fx\n' "W-$n" "$mt" "$mb" "$mo" \
    "$(div "$mt" "$mb")" "$(div "$mt" "$mo")" "$rt/$rb/$ro" "$mf" "$(div "$mf" "$mb")"
done
