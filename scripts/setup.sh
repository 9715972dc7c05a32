#!/usr/bin/env bash
# Installs the system packages that some tests need (Debian/Ubuntu, as root), and the Python
# packages numpy and safetensors for python3 (the tests of examples/load_checkpoint.py and
# examples/external/ism_linear_numpy.py). README's
# two commands need none of them: without them those tests skip with a visible SKIPPED line,
# and under CI (.ci/run runs this first) a missing tool fails its test. Exits non-zero,
# saying what is missing, whenever it cannot install what is missing.
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
# tests/checkpoints.rs runs examples/load_checkpoint.py and tests/external.rs
# examples/external/ism_linear_numpy.py: python3 with pip, where absent.
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
  packages+=(python3 python3-pip)
fi

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
else
  [ "$(id -u)" -eq 0 ] ||
    fail "cannot install ${missing[*]}: not root (run: sudo scripts/setup.sh)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed; ${missing[*]} not installed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    fail "apt-get install failed; not installed: ${missing[*]}"
  echo "setup: installed ${missing[*]}"
fi

# numpy and safetensors for python3, from PyPI. A system Python that refuses pip installs
# (PEP 668, "externally managed") gets them anyway: CI's machine is throwaway.
if python3 -c "import numpy, safetensors" 2>/dev/null; then
  echo "setup: numpy and safetensors present for python3"
else
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet numpy safetensors ||
    fail "pip could not install numpy and safetensors for python3"
  python3 -c "import numpy, safetensors" ||
    fail "python3 still cannot import numpy and safetensors after pip installed them"
  echo "setup: installed numpy and safetensors for python3"
fi
