#!/usr/bin/env bash
# Throughput of parallel runs: the same sweep with one run at a time on one thread, one run at
# a time on all cores, and two runs at a time (fresh each time), printing each summary line
# (wall time, runs/s, overall steps/s).
#
#   scripts/parallel_throughput.sh [SWEEP.toml] [extra runner args...]
#
# Default sweep: experiments/ci_small.toml with 300 steps per run.
set -euo pipefail
cd "$(dirname "$0")/.."
sweep="${1:-experiments/ci_small.toml}"
shift || true
extra=("$@")
if [ ${#extra[@]} -eq 0 ] && [ "$sweep" = "experiments/ci_small.toml" ]; then
  extra=(--set defaults.steps=300)
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build -q -p runner
runner="$CARGO_TARGET_DIR/debug/runner"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
i=0
for layout in "--jobs 1 --threads 1" "--jobs 1" "--jobs 2"; do
  i=$((i + 1))
  echo "$layout:"
  # shellcheck disable=SC2086
  RUST_LOG=warn "$runner" sweep "$sweep" --out "$out/$i" $layout "${extra[@]}" | head -1
done
