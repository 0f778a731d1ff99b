"""Users' files are sacred: every command that writes an output folder (run-pass, auto-opt,
optimize, quantize, run) never deletes through a symbolic link, never writes over or inside its
input, keeps the files it did not write, leaves no staging folder of a killed run behind, and
its cache serves only bytes it has verified.

Each case builds the folders, runs the built `olive` tool (OLIVE_CLI), then compares every
file it cares about with what was there before, byte for byte. Outputs are checked with onnx's
checker and onnxruntime against the input model."""

import json
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import boot_tag, dead_pid, start_time  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

TIMEOUT = 300
COMMANDS = ["run-pass", "auto-opt", "optimize", "quantize", "run"]


def make_model(path):
    """x[b,128] -> MatMul -> Relu -> MatMul: weights big enough to quantize and to go to external data."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((128, 64)).astype(np.float32) * 0.1, "w1"),
             numpy_helper.from_array(rng.standard_normal((64, 32)).astype(np.float32) * 0.1, "w2")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    graph = helper.make_graph(nodes, "safety", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 128])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 32])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def olive(*args, cwd):
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    for alarm in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert alarm not in r.stderr, r.stderr
    return r


def write_config(work, model, out, name="config.json", **engine):
    cfg = {"input_model": {"type": "ONNXModel", "model_path": str(model)},
           "systems": {"local_system": {"type": "LocalSystem", "accelerators": [
               {"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
           "passes": {"p": {"type": "OnnxPeepholeOptimizer"}},
           "engine": {"output_dir": str(out), "cache_dir": str(work / "cache"), **engine}}
    path = work / name
    path.write_text(json.dumps(cfg, indent=2))
    return path


def command(name, model, out, work, **engine):
    """The argument list of one entry point writing `model`'s result to `out` (run-pass with
    --overwrite, so that existing folders are in play)."""
    if name == "run-pass":
        return ["run-pass", "--pass", "peephole", "-m", model, "-o", out, "--overwrite"]
    if name == "run":
        return ["run", "--config", write_config(work, model, out, **engine)]
    extra = ["--precision", "fp32"] if name != "quantize" else ["--block_size", "32"]
    return [name, "-m", model, "-o", out, "--cache_dir", work / "cache", *extra]


def run_ok(name, model, out, work):
    r = olive(*command(name, model, out, work), cwd=work)
    assert r.returncode == 0, r.stderr
    check_output(out / "model.onnx", model, 0.15 if name == "quantize" else 1e-4)
    return r


def refused(name, model, out, work, *fragments):
    r = olive(*command(name, model, out, work), cwd=work)
    assert r.returncode == 1, (r.stdout, r.stderr)
    errors = [line for line in r.stderr.splitlines() if line.startswith("olive: error: ")]
    assert len(errors) == 1, r.stderr
    for f in fragments:
        assert f in errors[0], errors[0]
    return errors[0]


def check_output(path, reference, tolerance=1e-4):
    """The model at `path` computes what `reference` computes, within `tolerance` of the
    largest output (int4 weights: about a tenth)."""
    onnx.checker.check_model(str(path))
    x = np.random.default_rng(5).standard_normal((2, 128)).astype(np.float32)
    want = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.abs(got - want).max() <= tolerance * np.abs(want).max()


def snapshot(folder):
    """Every entry below `folder` without following links: files by content, links by target."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, folder)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir",)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", f.read())
    return out


@pytest.fixture
def work(tmp_path):
    make_model(tmp_path / "in" / "model.onnx")
    return tmp_path


# ---- 1. an output path that is a symbolic link is refused; nothing is removed through it ----

@pytest.mark.parametrize("name", COMMANDS)
def test_output_link_to_an_earlier_output_is_refused(work, name):
    model = work / "in" / "model.onnx"
    run_ok(name, model, work / "earlier", work)
    (work / "earlier" / "notes.txt").write_text("mine")
    (work / "earlier" / "data").mkdir()
    (work / "earlier" / "data" / "calib.bin").write_bytes(b"\x01\x02")
    before = snapshot(work / "earlier")
    os.symlink("earlier", work / "out")
    refused(name, model, work / "out", work, "symbolic link")
    assert os.readlink(work / "out") == "earlier"
    assert snapshot(work / "earlier") == before


@pytest.mark.parametrize("name", COMMANDS)
def test_output_link_to_the_input_folder_is_refused(work, name):
    model = work / "in" / "model.onnx"
    (work / "in" / "readme.txt").write_text("the user's")
    before = snapshot(work / "in")
    os.symlink("in", work / "out")
    refused(name, model, work / "out", work)
    assert snapshot(work / "in") == before and os.readlink(work / "out") == "in"


# ---- 2. no output that contains, equals or is inside the input ----

@pytest.mark.parametrize("name", COMMANDS)
def test_input_inside_an_earlier_output_is_refused(work, name):
    run_ok(name, work / "in" / "model.onnx", work / "out", work)
    before = snapshot(work / "out")
    refused(name, work / "out" / "model.onnx", work / "out", work, "contains the input model")
    assert snapshot(work / "out") == before


@pytest.mark.parametrize("name", COMMANDS)
def test_output_holding_the_input_file_is_refused(work, name):
    before = snapshot(work / "in")
    refused(name, work / "in" / "model.onnx", work / "in", work, "contains the input model")
    refused(name, work / "in" / "model.onnx", work, work, "contains the input model")
    assert snapshot(work / "in") == before


@pytest.mark.parametrize("name", COMMANDS)
def test_input_reached_through_a_link_is_protected(work, name):
    # The input is reached through a link to the output folder: where the link leads counts.
    run_ok(name, work / "in" / "model.onnx", work / "out", work)
    os.symlink("out", work / "alias")
    before = snapshot(work / "out")
    refused(name, work / "alias" / "model.onnx", work / "out", work, "contains the input model")
    assert snapshot(work / "out") == before


@pytest.mark.parametrize("name", ["auto-opt", "optimize", "quantize", "run"])
def test_output_inside_an_input_model_folder_is_refused(work, name):
    # A model folder is the input as a whole: nothing is written inside it, even through a link.
    folder = work / "in"
    (folder / "tokenizer.json").write_text("{}")
    before = snapshot(folder)
    refused(name, folder, folder / "optimized", work, "inside the input model")
    os.symlink("in", work / "alias")
    refused(name, folder, work / "alias" / "optimized", work, "inside the input model")
    assert snapshot(folder) == before


# ---- 13. a subfolder of the folder that holds an input file is a fine output ----

@pytest.mark.parametrize("name", COMMANDS)
def test_output_beside_the_input_file(work, name):
    (work / "in" / "model.onnx").rename(work / "model.onnx")
    r = olive(*command(name, "model.onnx", "out", work), cwd=work)
    assert r.returncode == 0, r.stderr
    check_output(work / "out" / "model.onnx", work / "model.onnx", 0.15 if name == "quantize" else 1e-4)


def test_quantize_example_from_its_help(work):
    # `olive quantize --help`'s example, run from the folder that holds model.onnx.
    (work / "in" / "model.onnx").rename(work / "model.onnx")
    r = olive("quantize", "-m", "model.onnx", "-o", "out", cwd=work)
    assert r.returncode == 0, r.stderr
    model = onnx.load(str(work / "out" / "model.onnx"))
    assert [n.op_type for n in model.graph.node].count("MatMulNBits") == 2


# ---- 3. files the user put in an output folder survive ----

@pytest.mark.parametrize("name", COMMANDS)
def test_user_files_survive_a_second_run(work, name):
    model = work / "in" / "model.onnx"
    (work / "precious").mkdir()
    (work / "precious" / "keep.txt").write_text("outside")
    run_ok(name, model, work / "out", work)
    (work / "out" / "notes.txt").write_text("mine")
    (work / "out" / "eval").mkdir()
    (work / "out" / "eval" / "scores.csv").write_text("a,b\n1,2\n")
    os.symlink("../precious", work / "out" / "shared")
    mine = {k: v for k, v in snapshot(work / "out").items() if k.split("/")[0] in ("notes.txt", "eval", "shared")}
    outside = snapshot(work / "precious")
    run_ok(name, model, work / "out", work)
    after = snapshot(work / "out")
    assert {k: after.get(k) for k in mine} == mine
    assert snapshot(work / "precious") == outside


def test_saved_config_survives_the_run_it_configures(work):
    r = olive("auto-opt", "-m", work / "in" / "model.onnx", "-o", "out", "--precision", "fp32", "--save_config_file",
              cwd=work)
    assert r.returncode == 0, r.stderr
    saved = (work / "out" / "olive_config.json").read_bytes()
    r = olive("run", "--config", "out/olive_config.json", cwd=work)
    assert r.returncode == 0, r.stderr
    assert (work / "out" / "olive_config.json").read_bytes() == saved
    check_output(work / "out" / "model.onnx", work / "in" / "model.onnx")


def test_user_file_with_an_output_name_is_not_replaced(work):
    # The first run writes no footprint.json; a footprint.json the user put there is theirs.
    model = work / "in" / "model.onnx"
    r = olive("run", "--config", write_config(work, model, work / "out", no_artifacts=True), cwd=work)
    assert r.returncode == 0, r.stderr
    (work / "out" / "footprint.json").write_text("my notes")
    before = snapshot(work / "out")
    r = olive("run", "--config", write_config(work, model, work / "out"), cwd=work)
    assert r.returncode == 1 and "footprint.json" in r.stderr and "did not write" in r.stderr, r.stderr
    assert snapshot(work / "out") == before


def test_folder_of_user_files_is_refused_naming_them(work):
    (work / "out").mkdir()
    (work / "out" / "thesis.tex").write_text("chapter 1")
    for name in ["auto-opt", "optimize", "quantize", "run"]:
        line = refused(name, work / "in" / "model.onnx", work / "out", work, "thesis.tex")
        assert "not written by libolive" in line
    assert sorted(os.listdir(work / "out")) == ["thesis.tex"]


# ---- 4. staging folders of killed runs are removed by the next run, live ones are not ----

def fake_staging(folder, final, pid, start):
    d = folder / f".{final}.tmp-{boot_tag()}-{pid}-{start}-aB3xZ9"
    d.mkdir(parents=True)
    (d / "model.onnx.data").write_bytes(b"\0" * 4096)
    return d


@pytest.mark.parametrize("name", COMMANDS)
def test_stale_staging_folders_are_removed(work, name):
    stale = fake_staging(work, "out", dead_pid(), 12345)
    live = fake_staging(work, "out", os.getpid(), start_time(os.getpid()))
    unrelated = work / ".out.tmp-mine"
    unrelated.mkdir()
    cache_stale = fake_staging(work / "cache" / "runs", "0" * 64, dead_pid(), 1)
    run_ok(name, work / "in" / "model.onnx", work / "out", work)
    assert not stale.exists()
    assert live.exists() and unrelated.exists()
    if name != "run-pass":  # run-pass has no cache
        assert not cache_stale.exists()


# ---- 11. the cache verifies the bytes it serves ----

def cache_entry_files(work):
    return [p for p in (work / "cache" / "runs").glob("*/model.onnx*")]


def test_altered_cache_entry_with_restored_times_is_rebuilt(work):
    model = work / "in" / "model.onnx"
    cfg = write_config(work, model, work / "out")
    r = olive("run", "--config", cfg, cwd=work)
    assert r.returncode == 0, r.stderr
    good = (work / "out" / "model.onnx.data").read_bytes()
    [data] = [p for p in cache_entry_files(work) if p.name == "model.onnx.data"]
    st = os.stat(data)
    raw = bytearray(data.read_bytes())
    raw[100:108] = b"\x7f" * 8  # same size, same inode: written in place
    with open(data, "r+b") as f:
        f.write(raw)
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(data).st_mtime_ns == st.st_mtime_ns and os.stat(data).st_ino == st.st_ino
    r = olive("run", "--config", cfg, "--log_level", "1", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "altered" in r.stderr and "cache hit" not in r.stderr, r.stderr
    assert (work / "out" / "model.onnx.data").read_bytes() == good
    check_output(work / "out" / "model.onnx", model)


def test_altered_input_with_restored_times_is_hashed_again(work):
    # The input's hash is reused while size, mtime, ctime and inode stay; setting the mtime
    # back moves the ctime, so the changed input is a new input, not a cache hit.
    model = work / "in" / "model.onnx"
    cfg = write_config(work, model, work / "out")
    assert olive("run", "--config", cfg, cwd=work).returncode == 0
    st = os.stat(model)
    m = onnx.load(str(model))
    w = numpy_helper.to_array(m.graph.initializer[1]).copy()
    w *= -1
    m.graph.initializer[1].CopyFrom(numpy_helper.from_array(w, "w2"))
    raw = m.SerializeToString()
    assert len(raw) == st.st_size
    with open(model, "r+b") as f:
        f.write(raw)
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = olive("run", "--config", cfg, "--log_level", "1", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "cache hit" not in r.stderr, r.stderr
    check_output(work / "out" / "model.onnx", model)


@pytest.mark.parametrize("cache", ["in", "in/cache"])
def test_cache_dir_in_the_input_folder_is_refused(work, cache):
    folder = work / "in"
    before = snapshot(folder)
    r = olive("run", "--config", write_config(work, folder, work / "out", cache_dir=str(work / cache)), cwd=work)
    assert r.returncode == 1 and "cache_dir" in r.stderr and "input model" in r.stderr, r.stderr
    r = olive("quantize", "-m", folder, "-o", work / "out", "--cache_dir", work / cache, cwd=work)
    assert r.returncode == 1 and "cache_dir" in r.stderr, r.stderr
    assert snapshot(folder) == before and not (work / "out").exists()
