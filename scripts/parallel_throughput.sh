#!/usr/bin/env bash
# Throughput of parallel runs: the same sweep with --jobs 1 and --jobs 2 (fresh each time),
# printing each summary line (wall time, runs/s, overall steps/s).
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
for jobs in 1 2; do
  echo "--jobs $jobs:"
  RUST_LOG=warn "$runner" sweep "$sweep" --out "$out/jobs$jobs" --jobs "$jobs" "${extra[@]}" | head -1
done
