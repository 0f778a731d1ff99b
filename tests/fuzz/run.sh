#!/usr/bin/env bash
# Usage: run.sh FUZZ_BUILD_DIR SECONDS
#
# Runs every fuzz target of FUZZ_BUILD_DIR (the tests/fuzz folder of a sanitizer build) on
# seeds gathered from the test data, then, when SECONDS > 0, fuzzes each for SECONDS. The
# targets are libFuzzer binaries (clang) or linked with driver.c (gcc); both take the same
# flags. A crash, leak or sanitizer report fails the run; the input is saved as crash-* in
# the current folder (libFuzzer: crash-<sha1>). Exit status: 0 pass, 1 fail.
set -euo pipefail
dir=$1
seconds=${2:-0}
src=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$dir" ] || { echo "run.sh: no folder $dir" >&2; exit 1; }
dir=$(cd "$dir" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/olive-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Seeds: small files of each format, as the tests use them.
seed() {  # seed TARGET FILE...: copies FILEs under distinct names into TARGET's corpus
  local target=$1
  shift
  mkdir -p "$work/$target"
  local f
  for f in "$@"; do
    [ -f "$f" ] && cp "$f" "$work/$target/$(printf '%s' "${f#"$src"/}" | tr '/' '_')"
  done
  return 0
}
seed onnx_load "$src"/tests/data/hostile/*/model.onnx $(ls /usr/share/libonnx-testdata/data/simple/*/model.onnx 2>/dev/null | head -n 40)
seed gguf "$src"/tests/data/gguf/*.gguf
seed safetensors $(find "$src/tests/data" -name '*.safetensors' -size -256k | sort)
seed workflow_json "$src"/tests/fuzz/seeds/workflow_json/*
seed workflow_yaml "$src"/tests/fuzz/seeds/workflow_yaml/*
# Tokenizer inputs: a tokenizer.json, a NUL byte, then a text. The seeds/ ones (written by
# make_tokenizer_seeds.py), and each tokenizer.json of the test data (plain files only: the
# hostile corpus links some out of its folders) followed by a text with accents, CJK and a mark.
seed tokenizer "$src"/tests/fuzz/seeds/tokenizer/*
for f in $(find "$src/tests/data" -name tokenizer.json -type f | sort); do
  name=$(printf '%s' "${f#"$src"/}" | tr '/' '_')
  { cat "$f"; printf '\0Hello world, caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd e\xcc\x81 2026!'; } >"$work/tokenizer/$name"
done
# The pickle streams (data.pkl) inside the PyTorch zip checkpoints of the test data.
mkdir -p "$work/pickle"
python3 - "$work/pickle" $(find "$src/tests/data" -name '*.bin' | sort) <<'PY'
import os, sys, zipfile
out = sys.argv[1]
for i, path in enumerate(sys.argv[2:]):
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith("data.pkl"):
                    with open(os.path.join(out, "%d_%s" % (i, name.replace("/", "_"))), "wb") as f:
                        f.write(z.read(name))
    except zipfile.BadZipFile:  # a legacy (non-zip) checkpoint: the whole file is a pickle
        with open(path, "rb") as src, open(os.path.join(out, "%d_legacy.pkl" % i), "wb") as f:
            f.write(src.read())
PY

export ASAN_OPTIONS="${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:exitcode=87:print_stacktrace=1}"
status=0
for target in onnx_load gguf safetensors pickle workflow_json workflow_yaml tokenizer; do
  exe=$dir/fuzz_$target
  [ -x "$exe" ] || { echo "FAIL: $exe was not built" >&2; status=1; continue; }
  n=$(find "$work/$target" -type f | wc -l)
  [ "$n" -gt 0 ] || { echo "FAIL: no seeds for $target" >&2; status=1; continue; }
  # Replay: every seed once (libFuzzer: -runs=0 runs the corpus and stops).
  if ! "$exe" -runs=0 -max_len=1048576 "$work/$target" >"$work/$target.log" 2>&1; then
    tail -n 60 "$work/$target.log" >&2
    echo "FAIL: $target crashed on a seed" >&2
    status=1
    continue
  fi
  echo "fuzz_$target: $n seeds replayed"
  if [ "$seconds" -gt 0 ]; then
    # New inputs go to a copy, so the seeds stay as they are.
    cp -r "$work/$target" "$work/$target.corpus"
    if ! "$exe" -max_total_time="$seconds" -max_len=65536 -timeout=25 -rss_limit_mb=2048 \
         -print_final_stats=1 "$work/$target.corpus" >"$work/$target.fuzz.log" 2>&1; then
      tail -n 80 "$work/$target.fuzz.log" >&2
      echo "FAIL: fuzz_$target found a crash (input saved as crash-* in $(pwd))" >&2
      status=1
      continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p; s/^fuzz_[a-z_]*: \([0-9]*\) mutated inputs run$/\1/p' "$work/$target.fuzz.log" | tail -n 1)
    echo "fuzz_$target: ${runs:-?} inputs in ${seconds} s"
  fi
done
exit $status
