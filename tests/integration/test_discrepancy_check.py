"""The discrepancy_check pass (Olive's OnnxDiscrepancyCheck): the model and a reference run in
onnxruntime on Olive's inputs (ones, symbolic dimensions from Olive's table); the pass passes the
model through unchanged when the first outputs agree within the limits and fails, writing
nothing, when they do not. The differences the limits are checked against are computed here
with onnxruntime from the same inputs. A Hugging Face reference is converted to float32 first."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from olive_testlib import run_convert  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")
LLAMA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert" / "llama"


def model(w, dim="batch_size"):
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [dim, 3, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [dim, 3, 8])],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def outputs(m):
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": np.ones((1, 3, 8), np.float32)})[0].astype(np.float64)


def check(candidate, reference, tmp_path, *params):
    src, dst = tmp_path / "cand.onnx", tmp_path / "out" / "model.onnx"
    dst.parent.mkdir(exist_ok=True)
    onnx.save(candidate, str(src))
    if isinstance(reference, onnx.ModelProto):
        onnx.save(reference, str(tmp_path / "ref.onnx"))
        reference = tmp_path / "ref.onnx"
    proc = subprocess.run([TOOL, "OnnxDiscrepancyCheck", str(src), str(dst), f"reference_model_path={reference}",
                           *params], capture_output=True, text=True, timeout=300)
    return proc, dst


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 8)).astype(np.float32)
    w2 = w.copy()
    w2[:, 0] += 0.05   # with ones in, each column's sum moves by 8 * the change
    w2[:, 1] -= 0.001
    return model(w2), model(w)


def test_within_limits_passes_the_model_unchanged(pair, tmp_path):
    cand, ref = pair
    diff = np.abs(outputs(cand) - outputs(ref))
    proc, dst = check(cand, ref, tmp_path, f"max_mae={diff.max() * 1.01}",
                      f"max_elements_above_0_1={int((diff > 0.1).sum())}",
                      f"max_elements_above_0_01={int((diff > 0.01).sum())}")
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))
    np.testing.assert_array_equal(numpy_helper.to_array(out.graph.initializer[0]),
                                  numpy_helper.to_array(cand.graph.initializer[0]))
    # the same model as its own reference (a folder holding model.onnx), with no tolerance at all
    (tmp_path / "refdir").mkdir()
    onnx.save(cand, str(tmp_path / "refdir" / "model.onnx"))
    proc, _ = check(cand, tmp_path / "refdir", tmp_path, "max_mae=0", "max_elements_above_0_01=0")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("limit", ["max_mae", "max_elements_above_0_1", "max_elements_above_0_01"])
def test_beyond_a_limit_fails_and_writes_nothing(pair, tmp_path, limit):
    cand, ref = pair
    diff = np.abs(outputs(cand) - outputs(ref))
    assert (diff > 0.1).sum() == 3 and (diff > 0.01).sum() == 3  # column 0 of each of the 3 rows
    value = {"max_mae": f"{diff.max() * 0.99}", "max_elements_above_0_1": "2", "max_elements_above_0_01": "2"}[limit]
    proc, dst = check(cand, ref, tmp_path, f"{limit}={value}")
    assert proc.returncode != 0 and not dst.exists()
    assert limit in proc.stderr and "differ" in proc.stderr, proc.stderr
    if limit == "max_mae":
        assert f"{diff.max():.6f}" in proc.stderr, proc.stderr


@pytest.mark.parametrize("params,words", [(["genai_model_path=/x"], ["genai_model_path", "PyTorch"]),
                                          (["max_mae=abc"], ["max_mae", "abc"]),
                                          (["max_elements_above_0_1=-1"], ["max_elements_above_0_1"])])
def test_refused_settings(pair, tmp_path, params, words):
    proc, dst = check(*pair, tmp_path, *params)
    assert proc.returncode != 0 and not dst.exists()
    for w in words:
        assert w in proc.stderr, proc.stderr


def test_unknown_dimension_and_missing_reference(pair, tmp_path):
    w = numpy_helper.to_array(pair[1].graph.initializer[0])
    proc, dst = check(model(w, "n"), model(w, "n"), tmp_path)
    assert proc.returncode != 0 and "'n'" in proc.stderr and "batch_size" in proc.stderr, proc.stderr
    proc, dst = check(pair[0], tmp_path / "nowhere.onnx", tmp_path)
    assert proc.returncode != 0 and "nowhere.onnx" in proc.stderr and not dst.exists(), proc.stderr


@pytest.mark.skipif(not CLI or not LLAMA.is_dir(), reason="needs the olive CLI and the tiny Llama checkpoint")
def test_checkpoint_reference(tmp_path):
    """A decoder converted from the tiny Llama against the checkpoint itself: float32 agrees to
    rounding; int4 does not agree to nothing."""
    run_convert(CLI, LLAMA, tmp_path / "fp32", "precision=fp32")
    run_convert(CLI, LLAMA, tmp_path / "int4", "precision=int4")
    (tmp_path / "o1").mkdir()
    (tmp_path / "o2").mkdir()
    proc = subprocess.run([TOOL, "OnnxDiscrepancyCheck", str(tmp_path / "fp32" / "model.onnx"),
                           str(tmp_path / "o1" / "model.onnx"), f"reference_model_path={LLAMA}", "max_mae=1e-4"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([TOOL, "OnnxDiscrepancyCheck", str(tmp_path / "int4" / "model.onnx"),
                           str(tmp_path / "o2" / "model.onnx"), f"reference_model_path={LLAMA}", "max_mae=0"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "max_mae" in proc.stderr, proc.stderr
