#!/usr/bin/env bash
# Nightly regression check: runs experiments/nightly.toml from scratch and compares every
# configuration's metrics with the committed reference results/reference/nightly.csv,
# within tolerances based on the spread over seeds (`runner compare`). Prints one line per
# metric outside its tolerance and exits non-zero on a regression.
#
#   scripts/nightly.sh                      # check (exit 0 ok, 1 regression or failure)
#   scripts/nightly.sh --update-reference   # rerun and overwrite the reference table
#
# Environment: CARGO_TARGET_DIR (default target), NIGHTLY_OUT (default results/nightly),
# NIGHTLY_JOBS (default: one run per core), COMPARE_ARGS (extra `runner compare` flags, e.g.
# "--sds 4 --rel 0.2"). See docs/reproductions.md for running it from cron or CI.
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
case "${1:-}" in
  --update-reference) update=1 ;;
  "") ;;
  *) echo "usage: scripts/nightly.sh [--update-reference]" >&2; exit 2 ;;
esac
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build -q -p runner
runner="$CARGO_TARGET_DIR/debug/runner"
out="${NIGHTLY_OUT:-results/nightly}"
reference=results/reference/nightly.csv
jobs=()
if [ -n "${NIGHTLY_JOBS:-}" ]; then jobs=(--jobs "$NIGHTLY_JOBS"); fi
# Start from scratch: the check is about what the code does today.
rm -rf -- "$out"
# A failed run is a regression the comparison reports (fewer ok runs), so go on to it.
RUST_LOG="${RUST_LOG:-warn}" "$runner" sweep experiments/nightly.toml --out "$out" "${jobs[@]}" || true
if [ "$update" = 1 ]; then
  mkdir -p "$(dirname "$reference")"
  cp "$out/runs.csv" "$reference"
  echo "updated $reference ($(($(wc -l < "$reference") - 1)) runs)"
  exit 0
fi
# shellcheck disable=SC2086
"$runner" compare "$reference" "$out" ${COMPARE_ARGS:-}
