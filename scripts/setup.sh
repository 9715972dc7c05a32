#!/usr/bin/env bash
# Installs the system packages that some tests need (Debian/Ubuntu, as root). README's two
# commands need none of them: without them those tests skip with a visible SKIPPED line, and
# under CI (.ci/run runs this first) a missing tool fails its test. Exits non-zero, saying
# what is missing, whenever it cannot install what is missing.
set -euo pipefail

packages=(
  # wgpu on a machine without a GPU: Mesa's software Vulkan driver (lavapipe).
  mesa-vulkan-drivers libvulkan1
  # The report's end-to-end test opens index.html in headless Chromium.
  chromium
  # The report's bundled font (crates/runner/assets/) comes from here when it is updated.
  fonts-dejavu-core
  # tests/slurm.rs: a single-node Slurm cluster (scripts/slurm-local.sh).
  slurm-wlm munge
)

fail() {
  echo "setup: $*" >&2
  exit 1
}

command -v dpkg-query >/dev/null && command -v apt-get >/dev/null ||
  fail "no dpkg/apt-get here: install these packages (or their equivalents) by hand: ${packages[*]}"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi
[ "$(id -u)" -eq 0 ] ||
  fail "cannot install ${missing[*]}: not root (run: sudo scripts/setup.sh)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || fail "apt-get update failed; ${missing[*]} not installed"
apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
  fail "apt-get install failed; not installed: ${missing[*]}"
echo "setup: installed ${missing[*]}"
