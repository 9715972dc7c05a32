#!/usr/bin/env bash
# Installs the system packages some tests and features use (Debian/Ubuntu, as root).
# Without them those tests skip with a message; CI always runs this first.
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

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root to install: ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
