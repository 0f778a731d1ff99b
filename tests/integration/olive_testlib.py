"""Helpers the integration tests share: running a pass through $OLIVE_APPLY_PASS, the
single-MatMul models the weight quantizers are checked on, onnxruntime sessions and the
references of onnxruntime's quantizers, and reading what a command draws on a terminal.

Test modules import this after their pytest.importorskip lines, so that a missing onnx or
onnxruntime skips them instead of failing their collection. (tests/data/quant/make_hqq.py
takes its weights and model from here too: the hqq test regenerates the large ones.)"""

import os
import pty
import select
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

APPLY_PASS = os.environ.get("OLIVE_APPLY_PASS")


def apply_pass(pass_name, model, tmp_path, *params, expect_ok=True, full_check=False, timeout=120):
    """Runs $OLIVE_APPLY_PASS `pass_name` (a pass name or alias) on `model` with the key=value
    `params`, from tmp_path/in.onnx to tmp_path/out.onnx.

    expect_ok: the run must succeed; returns the output model, which must pass onnx's checker
    (with shape inference when full_check). Otherwise returns (the finished process, the output
    path); an output left by an earlier run is removed first, so that the caller can see that a
    failed run writes none."""
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    if dst.exists():
        dst.unlink()
    proc = subprocess.run([APPLY_PASS, pass_name, str(src), str(dst), *params], capture_output=True, text=True,
                          timeout=timeout)
    if not expect_ok:
        return proc, dst
    assert proc.returncode == 0, f"apply_pass failed ({proc.returncode}): {proc.stderr.strip()}"
    out = onnx.load(str(dst))
    onnx.checker.check_model(out, full_check=full_check)
    return out


def outlier_weight(k, n, seed, dtype=np.float32, scale=1.0, constant_column=None):
    """A random MatMul weight [k, n]: standard normal times `scale`, four entries 8 times larger
    (outliers, as real weights have); with `constant_column`, the last column holds that value
    when n > 2 (constant blocks). A seed always gives the same weight (numpy's default_rng)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((k, n)).astype(np.float32) * scale
    idx = rng.integers(0, k, 4), rng.integers(0, n, 4)
    w[idx] *= 8.0
    if constant_column is not None and n > 2:
        w[:, n - 1] = constant_column
    return w.astype(dtype)


def matmul_model(w, name="mm"):
    """Y = MatMul(A [3, K], W) with the weight W [K, N] an initializer, all in W's type (float or
    float16); opset 17, IR 8."""
    k, n = w.shape
    elem = TensorProto.FLOAT if w.dtype == np.float32 else TensorProto.FLOAT16
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W"], ["Y"], name=name)], "g",
        [helper.make_tensor_value_info("A", elem, [3, k])], [helper.make_tensor_value_info("Y", elem, [3, n])],
        initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def set_weight_value(model, index, value):
    """Writes `value` (e.g. inf or NaN) at `index` of the model's first initializer."""
    t = model.graph.initializer[0]
    w = numpy_helper.to_array(t).copy()
    w[index] = value
    t.CopyFrom(numpy_helper.from_array(w, t.name))


def session(model):
    """An onnxruntime CPU session on `model` that logs errors only."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def run_matmul(model, a):
    """Output Y of a matmul_model (or its quantized form) for input A = a."""
    return session(model).run(None, {"A": a})[0]


def cosine(a, b):
    """Cosine similarity of two arrays, in float64."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def ort_quantize_dynamic(model, tmp_path, ops, **kw):
    """onnxruntime's quantize_dynamic of `model` on the op types `ops`, with its keyword
    arguments `kw` (a weight_type given by name, as "QUInt8", becomes its QuantType)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if "weight_type" in kw:
        kw["weight_type"] = QuantType[kw["weight_type"]]
    src, dst = tmp_path / "ref_in.onnx", tmp_path / "ref.onnx"
    onnx.save(model, str(src))
    quantize_dynamic(str(src), str(dst), op_types_to_quantize=ops, **kw)
    return onnx.load(str(dst))


def run_on_terminal(argv, timeout, cwd=None):
    """Runs `argv` with its standard error on a new pseudo-terminal (its standard output on a
    pipe) and reads what it draws there until it closes it. Returns (exit status, the bytes
    drawn on the terminal, the standard output as text). Fails when nothing comes for
    `timeout` seconds."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        shown = b""
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                proc.communicate()
                raise AssertionError(f"no output from {argv[0]} on the terminal")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        stdout = proc.communicate(timeout=timeout)[0].decode()
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return proc.returncode, shown, stdout
