#!/usr/bin/env bash
# Builds libolive and runs the whole test suite twice: a normal build, then a build with
# AddressSanitizer + UndefinedBehaviorSanitizer. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

# The venv's python (with onnx and onnxruntime) must come first so meson picks it for pytest.
export PATH="$PWD/.venv/bin:$PATH"

echo "== build"
if [ ! -d build ]; then meson setup build -Dwerror=true; else meson setup --reconfigure build -Dwerror=true >/dev/null; fi
ninja -C build
echo "== tests"
meson test -C build --print-errorlogs

echo "== sanitizer build (address, undefined)"
if [ ! -d build-asan ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Dwerror=true
fi
ninja -C build-asan
# Sanitizer findings get their own exit codes so no test mistakes them for an expected error.
export ASAN_OPTIONS="exitcode=86:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=87:print_stacktrace=1"
# Python loads the library through ctypes; an instrumented library cannot be loaded into an
# uninstrumented interpreter, so the binding suites run only in the normal build.
meson test -C build-asan --print-errorlogs --no-suite bindings
# One closing line over both runs, counting meson's tests (each suite counts once).
python3 - <<'PY'
import json
passed = failed = skipped = 0
for log in ('build/meson-logs/testlog.json', 'build-asan/meson-logs/testlog.json'):
    for line in open(log):
        result = json.loads(line).get('result')
        if result in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif result == 'SKIP':
            skipped += 1
        else:
            failed += 1
print(f'{passed} passed, {failed} failed, {skipped} skipped')
PY
