#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian/Ubuntu machine: apt toolchains + QEMU, a virtualenv, edgekit with its extras.
# Used by `make setup` (and so by `make demo`, `make test` and .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm cmake gcc g++ make
              mosquitto clang libclang-rt-14-dev python3-venv)
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing apt packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV" || { echo "error: could not create a venv"; echo "hint: sudo apt-get install python3-venv"; exit 1; }
fi
# Re-install only when pyproject.toml changed since the last successful install.
stamp="$VENV/.edgekit-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing edgekit[convert,dev] into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1
    # pip's "Location ... is ignored" lines are about this machine's optional local indexes: noise
    "$VENV/bin/python" -m pip install -q -e ".[convert,dev]" 2>&1 | { grep -v "^WARNING: Location" || true; }
    touch "$stamp"
fi
echo "setup: ok ($("$VENV/bin/python" --version), $(arm-none-eabi-gcc --version | head -1), $(qemu-system-arm --version | head -1))"
