#!/bin/sh
# Builds and tests the Rust bindings against a built libolive.
#   run-tests.sh LIB_DIR [BUILD_DIR]
# LIB_DIR holds libolive.so (e.g. <meson build>/lib). When BUILD_DIR is given, Cargo's target
# folder goes inside it (BUILD_DIR/rust-target), so nothing is written to the source tree.
# Extra arguments after `--` go to `cargo test`. Exits 77 (skipped) when cargo is not installed.
# OLIVE_SANITIZER_PRELOAD (set by meson in a sanitizer build): the sanitizer runtime that the
# test binaries get preloaded.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 LIB_DIR [BUILD_DIR] [-- cargo test args]" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
lib_dir=$(cd "$1" && pwd)
shift
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    mkdir -p "$1"
    CARGO_TARGET_DIR=$(cd "$1" && pwd)/rust-target
    export CARGO_TARGET_DIR
    shift
fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then
    shift
fi

if [ ! -e "$lib_dir/libolive.so" ] && [ ! -e "$lib_dir/libolive.dylib" ]; then
    echo "$0: no libolive shared library in $lib_dir" >&2
    exit 1
fi

# Cargo is often installed per user, outside the PATH a test harness passes on.
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
    PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "$0: cargo not found; skipping the Rust binding tests" >&2
    exit 77   # meson's code for a skipped test
fi

LIBOLIVE_LIB_DIR=$lib_dir
export LIBOLIVE_LIB_DIR
cd "$here"
# Tests that could not check what they are for (no Python with onnx, ...) name themselves
# here; they are listed after the run, one "SKIP rust <test>: <reason>" line each.
OLIVE_TEST_SKIP_LOG=$(mktemp "${TMPDIR:-/tmp}/olive-rust-skips.XXXXXX")
export OLIVE_TEST_SKIP_LOG
status=0
if [ -n "${OLIVE_SANITIZER_PRELOAD:-}" ]; then
    # libolive was built with a sanitizer: its runtime must be loaded first into the test
    # binaries (not into cargo or rustc). Doctests get no runner, so only --tests run.
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="env LD_PRELOAD=$OLIVE_SANITIZER_PRELOAD"
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER
    cargo test --offline --tests "$@" || status=$?
else
    cargo test --offline "$@" || status=$?
fi
while IFS= read -r line; do
    echo "SKIP rust $line"
done < "$OLIVE_TEST_SKIP_LOG"
rm -f "$OLIVE_TEST_SKIP_LOG"
exit "$status"
