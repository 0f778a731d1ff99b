#!/usr/bin/env bash
# Builds libolive and runs the whole test suite: a normal build; a build with AddressSanitizer +
# UndefinedBehaviorSanitizer (C tests, tools, the binding suites with the runtime preloaded, and
# the fuzz targets on their seeds and for a short timed run); the Python binding suite once
# more against a ThreadSanitizer build of the library. The C sources must be formatted as
# .clang-format says (scripts/check-format.sh), checked first. Installs what it needs first. The closing
# line counts meson's tests and pytest's and Rust's own cases; a skip whose reason is not on
# tests/skip_allowlist.txt, or a suite that did not run, fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

# The venv's python (with onnx and onnxruntime) must come first so meson picks it for pytest.
export PATH="$PWD/.venv/bin:$PATH"
# Cargo is often installed per user (rustup), outside the PATH a CI shell has.
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo is missing: the Rust binding cannot be tested" >&2; exit 1; }
# Debian 12's own rustc (1.63) is older than the bindings need: say so rather than fail later.
need_rust=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' bindings/rust/Cargo.toml)
have_rust=$(rustc --version | awk '{print $2}')
if [ -n "$need_rust" ] && [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n 1)" != "$need_rust" ]; then
  echo "test.sh: rustc $have_rust is older than $need_rust (bindings/rust/Cargo.toml): install a newer toolchain (rustup)" >&2
  exit 1
fi
python -c 'import pytest, onnx, onnxruntime, numpy' \
  || { echo "test.sh: the venv lacks pytest/onnx/onnxruntime/numpy: the Python suites cannot run" >&2; exit 1; }

echo "== format (.clang-format)"
bash scripts/check-format.sh >/dev/null || { bash scripts/check-format.sh | tail -n 40; exit 1; }

status=0
run_tests() {  # run_tests BUILD_DIR [meson test args]: keeps going after failures
  local dir=$1
  shift
  rm -f "$dir"/meson-logs/pytest-*.xml
  meson test -C "$dir" --print-errorlogs "$@" || status=1
}
setup() {  # setup BUILD_DIR [meson setup args]
  local dir=$1
  shift
  if [ ! -d "$dir" ]; then meson setup "$dir" -Dwerror=true "$@"; else meson setup --reconfigure "$dir" -Dwerror=true "$@" >/dev/null; fi
}
start=$SECONDS

echo "== build"
setup build
ninja -C build
echo "== tests"
run_tests build

echo "== sanitizer build (address, undefined)"
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
ninja -C build-asan
# Sanitizer findings get their own exit codes so no test mistakes them for an expected error.
export ASAN_OPTIONS="exitcode=86:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=87:print_stacktrace=1"
# The binding suites run here too: meson preloads the sanitizer runtime into Python and into
# the Rust test binaries (tests/meson.build).
run_tests build-asan

# Fuzzing: coverage-guided with clang's libFuzzer (build-fuzz: the library instrumented for
# it, only the fuzz targets built), else gcc's build-asan targets with their mutation driver.
fuzz_seconds=${OLIVE_FUZZ_SECONDS:-30}
echo "== fuzz targets: seeds, then $fuzz_seconds s each"
if echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d && n ? 0 : 0; }' \
     | clang -fsanitize=fuzzer,address -x c - -o /dev/null 2>/dev/null; then
  [ -d build-fuzz ] || CC=clang meson setup build-fuzz -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debug -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
  meson compile -C build-fuzz fuzz_onnx_load fuzz_gguf fuzz_safetensors fuzz_pickle fuzz_workflow_json \
    fuzz_workflow_yaml fuzz_tokenizer >build-fuzz/compile.log 2>&1 || { tail -n 40 build-fuzz/compile.log; status=1; }
  bash tests/fuzz/run.sh build-fuzz/tests/fuzz "$fuzz_seconds" || status=1
else
  echo "(no clang with libFuzzer: gcc's mutation driver)"
  bash tests/fuzz/run.sh build-asan/tests/fuzz "$fuzz_seconds" || status=1
fi

echo "== thread sanitizer: the library alone, then the Python and Rust binding suites against it"
setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
meson compile -C build-tsan lib/olive:shared_library
run_tests build-tsan --no-rebuild --suite bindings

echo "== $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
# One closing report over every run; it fails on a failed test, on a skip whose reason is not
# allowed, and on a suite that did not run (a missing tool would otherwise drop it silently).
required=()
for t in build:python-integration build:python-binding build:rust-binding build:install \
         build:readme-examples build:test-scripts build:recipes build:slurm build-asan:fuzz-seeds build-asan:python-binding \
         build-asan:rust-binding build-tsan:python-binding build-tsan:rust-binding; do
  required+=(--require "$t")
done
python3 scripts/test_report.py --allowlist tests/skip_allowlist.txt "${required[@]}" \
  build build-asan build-tsan || status=1
exit $status
