#!/usr/bin/env bash
# Usage: test_install.sh BUILD_DIR HELLO_C MESON PYTHON SANITIZE README
#
# Installs BUILD_DIR with `meson install --destdir` into a temporary folder, compiles HELLO_C
# with the flags pkg-config gives for the installed libolive.pc (and nothing from the source
# or build tree), runs it on a small ONNX model and checks what it prints and writes. Then
# the C example of README (its first ```c block) is built the way README says and run. Also
# checks the installed library's soname, that a default prefix puts libolive.pc where
# pkg-config looks without PKG_CONFIG_PATH, and that the installed `olive` tool starts without
# LD_LIBRARY_PATH.
# Exit status: 0 pass, 1 fail, 77 skip (meson's convention).
set -euo pipefail

build_dir=$1
hello_c=$2
meson=$3
python=$4
sanitize=${5:-none}
readme=${6:-}

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/olive-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

echo "== meson install --destdir $dest"
"$meson" install -C "$build_dir" --no-rebuild --destdir "$dest" --quiet \
  || fail "meson install failed"

pc=$(find "$dest" -name libolive.pc -print -quit)
[ -n "$pc" ] || fail "libolive.pc was not installed"
echo "pkg-config file: ${pc#$dest}"

# The .pc file names the final prefix (/usr/local/...); the sysroot maps it into $dest.
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$dest"
cflags=$(pkg-config --cflags libolive) || fail "pkg-config --cflags libolive failed"
libs=$(pkg-config --libs libolive) || fail "pkg-config --libs libolive failed"
echo "cflags: $cflags"
echo "libs: $libs"
case " $cflags $libs " in
  *"$build_dir"*) fail "pkg-config points into the build folder" ;;
esac

libdir=$(printf '%s\n' $libs | sed -n 's/^-L//p' | head -n 1)
[ -n "$libdir" ] && [ -d "$libdir" ] || fail "no installed library folder in '$libs'"
incdir=$(printf '%s\n' $cflags | sed -n 's/^-I//p' | head -n 1)
[ -f "$incdir/olive/olive.h" ] || fail "olive/olive.h is not under the installed include folder '$incdir'"
[ -f "$incdir/olive/version.h" ] || fail "the generated olive/version.h was not installed"

echo "== soname"
[ -e "$libdir/libolive.so" ] || fail "libolive.so (the link-time name) was not installed"
soname=$(readelf -d "$libdir/libolive.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libolive.so.0" ] || fail "soname is '$soname', expected libolive.so.0"
[ -e "$libdir/$soname" ] || fail "$soname (the run-time name) was not installed"
echo "SONAME $soname"

echo "== build hello against the installed library"
# Compile a copy so that nothing beside the source file can be picked up.
cp "$hello_c" "$tmp/hello.c"
san_flags=()
if [ "$sanitize" != "none" ] && [ -n "$sanitize" ]; then
  san_flags=("-fsanitize=$sanitize")
fi
# shellcheck disable=SC2086  # pkg-config output is a list of flags
cc -std=c11 -Wall -Wextra -Werror "${san_flags[@]}" -o "$tmp/hello" "$tmp/hello.c" $cflags $libs \
  || fail "hello.c does not build against the installed headers and library"

# Only the installed copy: meson test points LD_LIBRARY_PATH at the build folder.
export LD_LIBRARY_PATH="$libdir"
resolved=$(ldd "$tmp/hello" | awk '/libolive\.so/ {print $3}')
case "$resolved" in
  "$dest"/*) echo "hello loads $resolved" ;;
  *) fail "hello loads libolive from '$resolved', not from the installed copy" ;;
esac

echo "== model"
model=$tmp/model.onnx
if "$python" -c "import onnx" 2>/dev/null; then
  # x[batch,4] @ w[4,3] + b[3] -> y, with an Identity for peephole to remove: 15 parameters.
  "$python" - "$model" <<'PY'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
b = np.array([0.5, -1.0, 2.0], dtype=np.float32)
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["h"]),
     helper.make_node("Identity", ["h"], ["h2"]),
     helper.make_node("Add", ["h2", "b"], ["y"])],
    "hello",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
onnx.save(model, sys.argv[1])
PY
  want_inputs="x"; want_outputs="y"; want_params=15
  echo "made $model with onnx.helper"
else
  # No onnx package: use a model from ONNX's test data (inputs X and shape, output Y).
  src=/usr/share/libonnx-testdata/data/simple/test_expand_shape_model1/model.onnx
  [ -f "$src" ] || { echo "SKIP: neither the onnx package ($python) nor ONNX test data is available"; exit 77; }
  cp "$src" "$model"
  want_inputs="X shape"; want_outputs="Y"; want_params=0
  echo "using $src"
fi

echo "== run hello"
out_dir=$tmp/out
if ! "$tmp/hello" "$model" "$out_dir" >"$tmp/stdout" 2>"$tmp/stderr"; then
  cat "$tmp/stdout" "$tmp/stderr" >&2
  fail "hello exited with an error"
fi
cat "$tmp/stdout"
for name in $want_inputs; do
  grep -qx "input: $name" "$tmp/stdout" || fail "hello did not print input '$name'"
done
for name in $want_outputs; do
  grep -qx "output: $name" "$tmp/stdout" || fail "hello did not print output '$name'"
done
grep -qx "parameters: $want_params" "$tmp/stdout" || fail "hello did not print 'parameters: $want_params'"
[ -s "$out_dir/model.onnx" ] || fail "hello did not write $out_dir/model.onnx"
if "$python" -c "import onnx" 2>/dev/null; then
  "$python" -c "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)" "$out_dir/model.onnx" \
    || fail "onnx.checker rejects the model hello wrote"
  echo "onnx.checker accepts $out_dir/model.onnx"
fi

echo "== the C example of README.md"
if [ -n "$readme" ]; then
  # The first ```c block, as written, built with README's command.
  awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on {print}' "$readme" >"$tmp/app.c"
  [ -s "$tmp/app.c" ] || fail "no \`\`\`c block in $readme"
  mkdir "$tmp/readme"
  cp "$model" "$tmp/readme/model.onnx"
  # shellcheck disable=SC2046  # README's command, word splitting included
  (cd "$tmp" && cc "${san_flags[@]}" app.c $(pkg-config --cflags --libs libolive) -o readme/app) \
    || fail "README's C example does not build with: cc app.c \$(pkg-config --cflags --libs libolive)"
  (cd "$tmp/readme" && ./app) || fail "README's C example failed"
  [ -s "$tmp/readme/out/model.onnx" ] || fail "README's C example wrote no out/model.onnx"
  if "$python" -c "import onnx" 2>/dev/null; then
    "$python" -c "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)" \
      "$tmp/readme/out/model.onnx" || fail "onnx.checker rejects the model README's example wrote"
  fi
  echo "README's example wrote out/model.onnx"
fi

echo "== where pkg-config looks"
prefix=$(env -u PKG_CONFIG_SYSROOT_DIR pkg-config --variable=prefix libolive)
pc_dir=$(dirname "${pc#"$dest"}")
case "$prefix" in
  /usr|/usr/local)
    # A default prefix must need no PKG_CONFIG_PATH (multiarch Debian included).
    default_path=$(env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR pkg-config --variable pc_path pkg-config)
    case ":$default_path:" in
      *":$pc_dir:"*) echo "$pc_dir is on pkg-config's default path" ;;
      *) fail "libolive.pc goes to $pc_dir, which pkg-config does not search by default ($default_path)" ;;
    esac ;;
  *) echo "prefix $prefix: PKG_CONFIG_PATH=$pc_dir is needed (README says so)" ;;
esac

echo "== installed olive tool"
olive_bin=$(find "$dest" -type f -name olive -perm -u+x -print -quit)
[ -n "$olive_bin" ] || fail "the olive tool was not installed"
runpath=$(readelf -d "$olive_bin" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p; s/.*(RPATH).*\[\(.*\)\]/\1/p')
echo "olive's run path: ${runpath:-none}"
# As a user starts it: no LD_LIBRARY_PATH pointing anywhere (meson test sets one).
version=$(env -u LD_LIBRARY_PATH "$olive_bin" --version | head -n 1) \
  || fail "the installed olive does not start without LD_LIBRARY_PATH"
want_version=$(pkg-config --modversion libolive)
[ "$version" = "olive $want_version" ] || fail "installed olive --version says '$version', expected 'olive $want_version'"
resolved=$(env -u LD_LIBRARY_PATH ldd "$olive_bin" | awk '/libolive\.so/ {print $3}')
case "$resolved" in
  "$dest"/*) echo "olive loads $resolved" ;;
  *) fail "the installed olive loads libolive from '$resolved', not from the installed copy" ;;
esac
echo "$version"

echo "PASS"
