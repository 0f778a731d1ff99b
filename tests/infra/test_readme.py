"""Every fenced code block of the READMEs runs as written (README.md and each binding's
README.md, found anew on every run, so new sections are picked up):

- sh: run by bash -e in a temporary folder, with the built `olive` first on PATH;
- c: built against the tree's headers and the built library, and run (tests/install builds
  README's C example with pkg-config against an installed copy);
- python: run with the binding of this tree and the built library;
- rust: built and run in a temporary Cargo project whose dependencies are the README's toml
  block (a block without `fn main` gets one that calls its first function); a ```rust,no_run
  block is built only, and reported as skipped;
- toml: the dependency section of the Rust blocks of the same README;
- json: a workflow config (it has "input_model"), run with `olive run --config`.

Each block runs in its own temporary folder holding `model.onnx` (MatMul + Identity + Add,
64 wide), `config.json` (a workflow for it in Olive's schema), `tokenizer.json` (a small
WordPiece tokenizer of tests/data) and `tests`, a link to this tree's tests folder, so that
blocks may name the fixtures under tests/data as the README does from the checkout's root. A block that only shows
syntax (placeholders such as MODEL) is marked right before it with
`<!-- not run: why -->`; it is reported as skipped with that reason. A block in any other
language fails until it is handled here or marked."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OLIVE_BUILD_DIR", os.path.join(ROOT, "build"))
LIBRARY = os.environ.get("LIBOLIVE_LIBRARY")
CLI = os.environ.get("OLIVE_CLI")

# An opening fence with its info string: the language, then comma-separated attributes
# (```rust,no_run).
FENCE = re.compile(r"^```[ \t]*([^\s`]*)[ \t]*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->$")


def readmes():
    return [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "bindings", "*", "README.md")))


def blocks(path):
    """(first line number, language, code, reason it is not run or None) of each fenced block."""
    found = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = NOT_RUN.match(prev)
        start = i + 1
        j = start
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise AssertionError("%s:%d: unterminated code block" % (path, i + 1))
        found.append((start, m.group(1).lower(), "\n".join(lines[start:j]) + "\n",
                      marker.group(1) if marker else None))
        i = j + 1
    return found


def all_blocks():
    params = []
    for path in readmes():
        rel = os.path.relpath(path, ROOT)
        for line, lang, code, reason in blocks(path):
            params.append(pytest.param(path, line, lang, code, reason, id="%s:%d-%s" % (rel, line, lang or "text")))
    return params


@pytest.fixture
def workdir(tmp_path):
    """A folder with the files the examples name: model.onnx and config.json."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Identity", ["h"], ["h2"]),
         helper.make_node("Add", ["h2", "b"], ["y"])],
        "readme",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    work = tmp_path / "work"
    work.mkdir()
    onnx.save(model, str(work / "model.onnx"))
    (work / "config.json").write_text(json.dumps({
        "input_model": {"type": "ONNXModel", "model_path": "model.onnx"},
        "passes": {"peephole": {"type": "OnnxPeepholeOptimizer"}},
        "engine": {"output_dir": "optimized", "cache_dir": "../olive-cache"}}, indent=2))
    shutil.copyfile(os.path.join(ROOT, "tests", "data", "evaluate", "wp_tokenizer", "tokenizer.json"),
                    work / "tokenizer.json")
    os.symlink(os.path.join(ROOT, "tests"), work / "tests")
    return work


def environment():
    env = dict(os.environ)
    if CLI:
        env["PATH"] = os.path.dirname(CLI) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python") + os.pathsep + env.get("PYTHONPATH", "")
    libdir = os.path.join(BUILD, "lib")
    env["LD_LIBRARY_PATH"] = libdir + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    return env


def run(cmd, cwd, env, what, timeout=600):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        pytest.fail("%s failed (exit %d)\n--- stdout\n%s\n--- stderr\n%s"
                    % (what, result.returncode, result.stdout[-4000:], result.stderr[-4000:]))
    return result


def toml_dependencies(path):
    """The README's toml block with its path placeholder pointed at this tree's crate."""
    tomls = [code for _, lang, code, reason in blocks(path) if lang == "toml" and reason is None]
    if len(tomls) != 1:
        pytest.fail("%s: a Rust block needs exactly one toml block (its dependencies), found %d" % (path, len(tomls)))
    crate = os.path.join(ROOT, "bindings", "rust", "libolive")
    text = re.sub(r'path\s*=\s*"[^"]*"', 'path = "%s"' % crate, tomls[0])
    if crate not in text:
        pytest.fail("%s: the toml block names no path dependency on libolive" % path)
    return text


def rust_main(code):
    if re.search(r"^fn main\s*\(", code, re.M):
        return code
    m = re.search(r"^(?:pub\s+)?fn\s+(\w+)\s*\(\s*\)", code, re.M)
    if not m:
        pytest.fail("a Rust block without fn main and without a function to call")
    return code + "\nfn main() {\n    %s().unwrap();\n}\n" % m.group(1)


@pytest.mark.parametrize("path,line,lang,code,reason", all_blocks())
def test_readme_block(path, line, lang, code, reason, workdir):
    if reason is not None:
        pytest.skip("not run: " + reason)
    lang, *attributes = lang.split(",")
    env = environment()
    if lang in ("sh", "bash", "shell"):
        if not CLI:
            pytest.fail("OLIVE_CLI is not set: run through meson test")
        run(["bash", "-e", "-c", code], workdir, env, "the sh block")
    elif lang == "c":
        (workdir / "app.c").write_text(code)
        # The headers of the tree (and the generated version.h), the library of the build;
        # tests/install builds it with pkg-config against an installed copy.
        flags = ["-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(BUILD, "include"),
                 "-L" + os.path.join(BUILD, "lib"), "-lolive"]
        run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "app.c", *flags, "-o", "app"], workdir, env,
            "building the C block")
        run(["./app"], workdir, env, "the C block")
    elif lang == "python":
        if not LIBRARY:
            pytest.fail("LIBOLIVE_LIBRARY is not set: run through meson test")
        (workdir / "example.py").write_text(code)
        run([sys.executable, "example.py"], workdir, env, "the Python block")
    elif lang == "rust":
        cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
        if not os.path.exists(cargo):
            pytest.fail("cargo is missing: the Rust blocks cannot be built")
        project = workdir / "example"
        (project / "src").mkdir(parents=True)
        (project / "Cargo.toml").write_text(
            '[package]\nname = "readme-example"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n\n'
            + toml_dependencies(path))
        (project / "src" / "main.rs").write_text(rust_main(code))
        env["LIBOLIVE_LIB_DIR"] = os.path.join(BUILD, "lib")
        # One target folder for every block: the crates are compiled once.
        env["CARGO_TARGET_DIR"] = os.path.join(BUILD, "tests", "readme-cargo-target")
        run([cargo, "build", "--offline", "--quiet", "--manifest-path", str(project / "Cargo.toml")],
            workdir, env, "building the Rust block")
        if "no_run" in attributes:
            pytest.skip("built, not run: the block is marked rust,no_run")
        run([os.path.join(env["CARGO_TARGET_DIR"], "debug", "readme-example")], workdir, env, "the Rust block")
    elif lang == "json":
        if not CLI:
            pytest.fail("OLIVE_CLI is not set: run through meson test")
        if "input_model" not in json.loads(code):
            pytest.fail("a json block that is not a workflow config: mark it <!-- not run: ... -->")
        (workdir / "workflow.json").write_text(code)
        run([CLI, "run", "--config", "workflow.json"], workdir, env, "the json block (olive run --config)")
    elif lang == "toml":
        # Used as the dependencies of this README's Rust blocks: it must serve one.
        if not any(l.split(",")[0] == "rust" for _, l, _, r in blocks(path)):
            pytest.fail("a toml block in a README without Rust blocks: mark it <!-- not run: ... -->")
        toml_dependencies(path)
    else:
        pytest.fail("%s:%d: a ```%s block: this test does not know how to run it; mark it "
                    "<!-- not run: why --> right before the block if it is illustrative" % (path, line, lang))


def test_markers_precede_blocks():
    # A marker that is not right before a block marks nothing: it was probably left behind.
    for path in readmes():
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
        for i, line in enumerate(lines):
            if NOT_RUN.match(line):
                following = next((x for x in lines[i + 1:] if x), "")
                assert FENCE.match(following), "%s:%d: '<!-- not run -->' is not followed by a code block" % (path, i + 1)
