#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian/Ubuntu machine: apt toolchains + QEMU, a virtualenv, edgekit with its extras.
# Used by `make setup` (and so by `make demo`, `make test` and .ci/run). It says what it installs and why before
# doing it, shows apt's and pip's progress, and leaves no system service running that it did not find running.
set -euo pipefail
cd "$(dirname "$0")/.."

# package|why: the README's "Set-up" section lists the same packages (a test checks they agree).
APT_PACKAGES=(
    "gcc-arm-none-eabi|the Arm compiler for Cortex-M firmware"
    "libnewlib-arm-none-eabi|the C library the firmware links"
    "libstdc++-arm-none-eabi-newlib|the C++ library of TFLM firmware projects"
    "qemu-system-arm|the emulated Cortex-M boards the firmware runs on"
    "cmake|the firmware projects' build system"
    "gcc|host builds of the generated C (tests compare it with TFLM)"
    "g++|host builds of the C++ parts (TFLM wrapper checks)"
    "make|make demo / make test"
    "clang|the fuzzers (libFuzzer) and sanitizer builds in the tests"
    "libclang-rt-14-dev|clang's sanitizer and fuzzer runtimes"
    "mosquitto|an MQTT broker binary for the SBC service tests (they start their own; the system service is disabled)"
    "python3-venv|the virtualenv in .venv"
)
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

missing=()
for entry in "${APT_PACKAGES[@]}"; do
    p=${entry%%|*}
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$entry")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${#missing[@]} apt package(s):"
    names=()
    for entry in "${missing[@]}"; do
        printf '  %-32s %s\n' "${entry%%|*}" "${entry#*|}"
        names+=("${entry%%|*}")
    done
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: apt-get update"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${names[@]}"
    # Debian enables and starts mosquitto as a system service on install: a broker listening on port 1883 that
    # nobody asked for. The tests start their own broker; stop and disable the service we just installed.
    if [[ " ${names[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now mosquitto.service >/dev/null 2>&1 || true
        echo "setup: disabled the mosquitto system service (the tests start their own broker)"
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV" || { echo "error: could not create a venv"; echo "hint: sudo apt-get install python3-venv"; exit 1; }
fi
# Re-install only when pyproject.toml changed since the last successful install.
stamp="$VENV/.edgekit-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing edgekit[convert,dev] into $VENV (TensorFlow and tflite-micro are the big ones: ~1.5 GB)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # pip's "Location ... is ignored" lines are about this machine's optional local indexes: noise
    "$VENV/bin/python" -m pip install --progress-bar on -e ".[convert,dev]" 2>&1 | { grep -v "^WARNING: Location" || true; }
    touch "$stamp"
fi
echo "setup: ok ($("$VENV/bin/python" --version), $(arm-none-eabi-gcc --version | head -1), $(qemu-system-arm --version | head -1))"
echo "setup: the CLI is $VENV/bin/edgekit; 'source $VENV/bin/activate' puts edgekit on PATH in this shell"
