#!/usr/bin/env bash
# Checks that the C sources of lib/, include/, examples/ and tests/unit are formatted as
# .clang-format says (clang-format 14). Prints each file that differs with its diff and the
# number of lines that would change, and exits non-zero when any does.
#   scripts/check-format.sh          check
#   scripts/check-format.sh --fix    rewrite the files in place
set -euo pipefail
cd "$(dirname "$0")/.."

clang_format=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$clang_format" >/dev/null; then
  echo "check-format: $clang_format not found (apt-get install clang-format-14, or set CLANG_FORMAT)" >&2
  exit 2
fi
fix=0
if [ "${1:-}" = "--fix" ]; then fix=1; fi

# Templates (*.h.in) are left out: clang-format breaks their @VARIABLE@ placeholders.
files=$(git ls-files 'lib/*.c' 'lib/*.h' 'include/*.h' 'examples/*.c' 'examples/*.h' \
  'tests/unit/*.c' 'tests/unit/*.h')
changed_files=0
changed_lines=0
for f in $files; do
  if [ "$fix" = 1 ]; then
    "$clang_format" -i --style=file "$f"
    continue
  fi
  if ! out=$("$clang_format" --style=file "$f" | diff -u "$f" - --label "$f" --label "$f (formatted)"); then
    n=$(printf '%s\n' "$out" | grep -c '^-[^-]' || true)
    printf '%s\n' "$out"
    changed_files=$((changed_files + 1))
    changed_lines=$((changed_lines + n))
  fi
done
if [ "$fix" = 1 ]; then
  exit 0
fi
if [ "$changed_files" -gt 0 ]; then
  echo "check-format: $changed_files files are not formatted ($changed_lines lines would change); run scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: all files formatted"
