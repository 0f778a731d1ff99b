"""Batches of workflows: `olive run` with several --config, or a folder of configs, runs each
in turn through one cache, goes on after a failure, and ends with a summary and an exit status
that says whether any failed. Each output must be the one a run of that config alone writes."""

import json
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

PEEPHOLE = {"type": "OnnxPeepholeOptimizer"}
QUANT = {"type": "OnnxBlockWiseRtnQuantization", "block_size": 32}


def olive(*args, cwd):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def make_model(path):
    rng = np.random.default_rng(11)
    w = numpy_helper.from_array(rng.standard_normal((64, 32)).astype(np.float32), "w")
    nodes = [helper.make_node("Identity", ["x"], ["x2"]), helper.make_node("MatMul", ["x2", "w"], ["y"])]
    graph = helper.make_graph(nodes, "batch", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 32])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def config(path, passes, output_dir, cache_dir="cache"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"input_model": {"type": "ONNXModel", "model_path": "in/model.onnx"},
                                "passes": passes,
                                "engine": {"output_dir": output_dir, "cache_dir": cache_dir}}))


def summary(stdout):
    """{config: (state, detail)} from the lines after 'batch: '."""
    lines = stdout.split("\nbatch: ", 1)[1].splitlines()[1:]
    rows = {}
    for line in lines:
        state, rest = line[:8].strip(), line[9:]
        name, _, detail = rest.partition("  ")
        rows[name.strip()] = (state, detail.strip())
    return rows


@pytest.fixture
def work(tmp_path):
    make_model(tmp_path / "in" / "model.onnx")
    return tmp_path


def test_folder_batch_runs_every_config_through_one_cache(work):
    config(work / "batch" / "a.json", {"p": PEEPHOLE}, "out/a", cache_dir="cache-a")
    config(work / "batch" / "b.yaml.json", {"q": {"type": "NoSuchPass"}}, "out/b")
    config(work / "batch" / "c.json", {"p": PEEPHOLE, "q": QUANT}, "out/c", cache_dir="cache-c")
    (work / "batch" / "notes.txt").write_text("not a config")
    r = olive("run", "--config", "batch", "--cache_dir", "shared", "--log_level", "1", cwd=work)
    assert r.returncode == 1, (r.stdout, r.stderr)
    rows = summary(r.stdout)
    assert list(rows) == ["batch/a.json", "batch/b.yaml.json", "batch/c.json"], r.stdout
    assert rows["batch/a.json"] == ("ok", str(work / "out" / "a"))
    assert rows["batch/b.yaml.json"][0] == "failed" and "NoSuchPass" in rows["batch/b.yaml.json"][1]
    assert rows["batch/c.json"] == ("ok", str(work / "out" / "c"))
    assert "batch: 3 configs: 2 ok, 1 failed, 0 not run" in r.stdout
    # One cache for the batch: c's first pass is a's, found there.
    assert not (work / "cache-a").exists() and not (work / "cache-c").exists()
    hits = [line for line in r.stderr.splitlines() if "cache hit" in line or line.endswith(": run")]
    assert [("cache hit" in line) for line in hits] == [False, True, False], r.stderr
    # Each output is what the config writes when it runs alone.
    for name, passes in (("a", {"p": PEEPHOLE}), ("c", {"p": PEEPHOLE, "q": QUANT})):
        config(work / f"alone-{name}.json", passes, f"alone/{name}", cache_dir=f"alone-cache-{name}")
        alone = olive("run", "--config", f"alone-{name}.json", cwd=work)
        assert alone.returncode == 0, alone.stderr
        for f in (work / "alone" / name).iterdir():
            if f.name.startswith("model.onnx"):
                assert (work / "out" / name / f.name).read_bytes() == f.read_bytes(), (name, f.name)
        onnx.checker.check_model(str(work / "out" / name / "model.onnx"))


def test_repeated_config_flags_run_in_the_given_order(work):
    config(work / "z.json", {"p": PEEPHOLE}, "out/z")
    config(work / "a.json", {"q": QUANT}, "out/a")
    r = olive("run", "--config", "z.json", "--config", "a.json", cwd=work)
    assert r.returncode == 0, r.stderr
    assert list(summary(r.stdout)) == ["z.json", "a.json"]
    assert r.stdout.index("== [1/2] z.json") < r.stdout.index("== [2/2] a.json")
    for name in ("z", "a"):
        onnx.checker.check_model(str(work / "out" / name / "model.onnx"))


def test_two_configs_with_one_output_dir(work):
    config(work / "one.json", {"p": PEEPHOLE}, "out")
    config(work / "two.json", {"q": QUANT}, "out")
    r = olive("run", "--config", "one.json", "--config", "two.json", cwd=work)
    assert r.returncode == 1, r.stdout
    rows = summary(r.stdout)
    assert rows["one.json"][0] == "ok" and rows["two.json"][0] == "failed", r.stdout
    assert "also the output of 'one.json'" in r.stderr
    # The first output stands: the peephole model, not quantized.
    ops = [n.op_type for n in onnx.load(str(work / "out" / "model.onnx")).graph.node]
    assert ops == ["MatMul"], ops


def test_batch_usage_errors(work):
    config(work / "a.json", {"p": PEEPHOLE}, "out/a")
    config(work / "b.json", {"p": PEEPHOLE}, "out/b")
    r = olive("run", "--config", "a.json", "--config", "b.json", "-o", "x", cwd=work)
    assert r.returncode == 2 and "-o names one output folder" in r.stderr, r.stderr
    (work / "empty").mkdir()
    (work / "empty" / "readme.txt").write_text("")
    r = olive("run", "--config", "empty", cwd=work)
    assert r.returncode == 2 and "holds no *.json" in r.stderr, r.stderr
    assert not (work / "out").exists() and not (work / "x").exists()
