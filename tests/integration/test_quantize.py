"""The quantize pass against ONNX Runtime's own MatMulNBits quantizer.

Models with one MatMul (random weights with outliers; K a multiple of the block or not;
several block sizes; 4 and 8 bits; symmetric and asymmetric; float and float16) are quantized
by onnxruntime's MatMulNBitsQuantizer (default algorithm: MLAS; RTN config: round to nearest)
and by libolive through $OLIVE_APPLY_PASS. The MatMulNBits B, scales and zero points must be
byte-identical and carry the same attributes; both models then run in onnxruntime, must give
identical outputs, and must stay close to the float model (max abs error relative to the
output range and cosine similarity, printed per case)."""

import copy
import importlib.util
import logging
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, matmul_model, outlier_weight, run_matmul, set_weight_value  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

# onnxruntime's quantizer module imports onnx_ir; without it only the MLAS kernel itself is
# reachable (the default algorithm), so the full quantizer and the RTN config are skipped.
HAVE_ONNX_IR = importlib.util.find_spec("onnx_ir") is not None

# Bounds a correct quantizer meets with margin on these weights (outliers make a 4-bit block
# coarse); a wrong scale, zero point or layout lands far outside them. The per-weight check in
# dequantize() is the tight one.
MIN_COSINE = {4: 0.94, 8: 0.9995}
MAX_REL_ERR = {4: 0.5, 8: 0.05}


def make_model(k, n, seed, dtype=np.float32, name="mm"):
    model = matmul_model(outlier_weight(k, n, seed, dtype), name)
    onnx.checker.check_model(model)
    return model


def run_olive(model, tmp_path, *params, pass_name="quantize", expect_ok=True):
    return apply_pass(pass_name, model, tmp_path, *params, expect_ok=expect_ok)


def ort_quantize(model, algorithm, bits, block_size, symmetric, accuracy_level=None):
    """onnxruntime's MatMulNBitsQuantizer on a copy of `model` (it edits its input)."""
    from onnxruntime.quantization import matmul_nbits_quantizer as mnq

    logging.getLogger(mnq.__name__).setLevel(logging.WARNING)
    model = copy.deepcopy(model)
    if algorithm == "default":
        config = mnq.DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric, bits=bits,
                                                  accuracy_level=accuracy_level)
    else:
        # The RTN config takes bits per node; block size and symmetry from the quantizer.
        config = mnq.RTNWeightOnlyQuantConfig(customized_weight_config={"mm": {"bits": bits}})
    q = mnq.MatMulNBitsQuantizer(model, block_size=block_size, is_symmetric=symmetric,
                                 accuracy_level=accuracy_level, algo_config=config)
    q.process()
    return q.model.model


def mlas_tensors(w, bits, block_size, symmetric):
    """The default algorithm's tensors straight from onnxruntime's MLAS kernel, with the buffer
    shapes its quantizer allocates (used when onnx_ir is missing)."""
    from onnxruntime.capi import _pybind_state as ps

    k, n = w.shape
    kpack = 8 // bits
    k_blocks = (k + block_size - 1) // block_size
    packed = np.zeros((n, k_blocks, block_size // kpack), dtype=np.uint8)
    scales = np.zeros((n, k_blocks), dtype=w.dtype)
    zp = np.zeros((n, (k_blocks + kpack - 1) // kpack), dtype=np.uint8)
    padded = np.pad(w, ((0, k_blocks * block_size - k), (0, 0)))
    kernel = ps.quantize_matmul_4bits if bits == 4 else ps.quantize_matmul_8bits
    kernel(packed, padded, scales, zp, block_size, n, k, symmetric)
    return [packed, scales] + ([] if symmetric else [zp])


def nbits_node(model):
    nodes = [n for n in model.graph.node if n.op_type == "MatMulNBits"]
    assert len(nodes) == 1, [n.op_type for n in model.graph.node]
    assert nodes[0].domain == "com.microsoft"
    return nodes[0]


def nbits_tensors(model):
    node = nbits_node(model)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return [inits[name] for name in node.input[1:]], attrs


def assert_same_tensors(ours, ref):
    assert len(ours) == len(ref), f"{len(ours)} quantized inputs, onnxruntime has {len(ref)}"
    for what, a, b in zip(("B", "scales", "zero_points"), ours, ref):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        if a.tobytes() != b.tobytes():
            diff = np.argwhere(a.view(np.uint8) != b.view(np.uint8)) if a.dtype == np.uint8 else np.argwhere(a != b)
            raise AssertionError(f"{what} differs from onnxruntime's at {diff[:4].tolist()} ({len(diff)} places)")


def dequantize(tensors, k, bits, block_size):
    """B [K, N] back from MatMulNBits tensors, decoded here from the operator's layout, with
    each weight's scale."""
    packed, scales = tensors[0], tensors[1].astype(np.float64)
    n, k_blocks = scales.shape
    def unpack(x):
        return np.stack([x & 15, x >> 4], -1).reshape(x.shape[0], -1) if bits == 4 else x
    codes = unpack(packed.reshape(n, -1)).astype(np.float64)
    zp = (unpack(tensors[2])[:, :k_blocks].astype(np.float64) if len(tensors) == 3
          else np.full((n, k_blocks), 2.0 ** (bits - 1)))
    per_weight_scale = np.repeat(scales, block_size, axis=1)
    w = (codes - np.repeat(zp, block_size, axis=1)) * per_weight_scale
    return w[:, :k].T, np.abs(per_weight_scale[:, :k].T)


def check_dequantized(w, tensors, bits, block_size):
    """Every weight within one step of its block's scale (half a step from rounding, up to
    one more where the code range clamps)."""
    w_deq, step = dequantize(tensors, w.shape[0], bits, block_size)
    err = np.abs(w.astype(np.float64) - w_deq)
    worst = np.unravel_index(np.argmax(err - step), err.shape)
    assert np.all(err <= step * 1.001 + 1e-6), f"weight {worst}: {w[worst]} decodes to {w_deq[worst]}"
    return w_deq




def accuracy(ref, got):
    ref = ref.astype(np.float64).ravel()
    got = got.astype(np.float64).ravel()
    max_err = float(np.max(np.abs(ref - got)))
    cos = float(ref @ got / (np.linalg.norm(ref) * np.linalg.norm(got)))
    return max_err / float(np.max(np.abs(ref))), max_err, cos


SHAPES = [(64, 8, 32), (100, 6, 32), (200, 5, 64), (256, 4, 128), (48, 3, 16), (300, 7, 256), (17, 1, 16)]


@pytest.mark.parametrize("algorithm", ["default", "rtn"])
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "K%dN%dB%d" % s)
def test_matches_onnxruntime(tmp_path, algorithm, bits, symmetric, shape):
    k, n, block_size = shape
    k_blocks = (k + block_size - 1) // block_size
    if algorithm == "rtn" and not HAVE_ONNX_IR:
        pytest.skip("onnxruntime's RTN quantizer needs the onnx_ir package")
    if algorithm == "rtn" and bits == 4 and not symmetric and k_blocks % 2 and n > 1:
        pytest.skip("onnxruntime's RTN writer cannot pack 4-bit zero points for an odd number of blocks")
    model = make_model(k, n, seed=k * 31 + n * 7 + bits)
    ours = run_olive(model, tmp_path, f"bits={bits}", f"block_size={block_size}",
                     f"is_symmetric={'true' if symmetric else 'false'}", f"algorithm={algorithm}")
    got, attrs = nbits_tensors(ours)
    assert attrs == {"K": k, "N": n, "bits": bits, "block_size": block_size}
    assert not [t for t in ours.graph.initializer if t.name == "W"], "the float weight was left behind"
    assert any(o.domain == "com.microsoft" and o.version == 1 for o in ours.opset_import)

    if HAVE_ONNX_IR:
        ref_model = ort_quantize(model, algorithm, bits, block_size, symmetric)
        ref, ref_attrs = nbits_tensors(ref_model)
        assert attrs == ref_attrs
    else:
        ref_model = None
        ref = mlas_tensors(numpy_helper.to_array(model.graph.initializer[0]), bits, block_size, symmetric)
    assert_same_tensors(got, ref)

    w = numpy_helper.to_array(model.graph.initializer[0])
    w_deq = check_dequantized(w, got, bits, block_size)
    a = np.random.default_rng(1).standard_normal((3, k)).astype(np.float32)
    y = run_matmul(model, a)
    y_ours = run_matmul(ours, a)
    # onnxruntime reads the tensors as decoded above.
    np.testing.assert_allclose(y_ours, a.astype(np.float64) @ w_deq, rtol=1e-4, atol=1e-4 * np.abs(y).max())
    if ref_model is not None:
        np.testing.assert_array_equal(y_ours, run_matmul(ref_model, a))
    rel, max_err, cos = accuracy(y, y_ours)
    print(f"{algorithm} bits={bits} sym={symmetric} K={k} N={n} block={block_size}: "
          f"max abs error {max_err:.4g} ({rel:.3%} of range), cosine {cos:.6f}")
    assert cos >= MIN_COSINE[bits] and rel <= MAX_REL_ERR[bits], (max_err, rel, cos)


@pytest.mark.parametrize("algorithm", ["default", "rtn"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_float16_weights(tmp_path, algorithm, symmetric):
    if not HAVE_ONNX_IR:
        pytest.skip("onnxruntime's quantizer needs the onnx_ir package")
    model = make_model(128, 5, seed=5, dtype=np.float16)
    ours = run_olive(model, tmp_path, "block_size=32", f"is_symmetric={'true' if symmetric else 'false'}",
                     f"algorithm={algorithm}")
    got, _ = nbits_tensors(ours)
    assert got[1].dtype == np.float16
    assert_same_tensors(got, nbits_tensors(ort_quantize(model, algorithm, 4, 32, symmetric))[0])
    check_dequantized(numpy_helper.to_array(model.graph.initializer[0]), got, 4, 32)
    a = np.random.default_rng(2).standard_normal((3, 128)).astype(np.float16)
    rel, max_err, cos = accuracy(run_matmul(model, a), run_matmul(ours, a))
    print(f"float16 {algorithm} sym={symmetric}: max abs error {max_err:.4g}, cosine {cos:.6f}")
    assert cos >= MIN_COSINE[4] and rel <= MAX_REL_ERR[4]


def test_olive_alias_and_accuracy_level(tmp_path):
    """Olive's OnnxBlockWiseRtnQuantization is the MLAS quantizer with 4 bits, block 128,
    symmetric, its scales kept 1-D as Olive writes them (test_rtn_olive.py compares the whole
    model with Olive's); accuracy_level is written only when set."""
    model = make_model(300, 4, seed=9)
    ours = run_olive(model, tmp_path, pass_name="OnnxBlockWiseRtnQuantization")
    got, attrs = nbits_tensors(ours)
    assert attrs == {"K": 300, "N": 4, "bits": 4, "block_size": 128}
    assert got[1].shape == (4 * 3,)
    got[1] = got[1].reshape(4, 3)
    assert_same_tensors(got, mlas_tensors(numpy_helper.to_array(model.graph.initializer[0]), 4, 128, True))
    ours = run_olive(model, tmp_path, "accuracy_level=4")
    assert nbits_tensors(ours)[1]["accuracy_level"] == 4
    if HAVE_ONNX_IR:
        ref = ort_quantize(model, "default", 4, 128, True, accuracy_level=4)
        assert nbits_tensors(ref)[1] == nbits_tensors(ours)[1]


def test_shared_weight_and_skips(tmp_path):
    """A weight also read by an Add stays for it; a MatMul on a graph input stays a MatMul."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((64, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W"], ["Y"], name="mm"),
         helper.make_node("Add", ["W", "W"], ["Z"], name="add"),
         helper.make_node("MatMul", ["A", "X"], ["Y2"], name="dynamic")], "g",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [3, 64]),
         helper.make_tensor_value_info("X", TensorProto.FLOAT, [64, 4])],
        [helper.make_tensor_value_info(v, TensorProto.FLOAT, s) for v, s in (("Y", [3, 4]), ("Z", [64, 4]),
                                                                            ("Y2", [3, 4]))],
        initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    ours = run_olive(model, tmp_path, "block_size=32")
    assert [n.op_type for n in ours.graph.node] == ["MatMulNBits", "Add", "MatMul"]
    a = rng.standard_normal((3, 64)).astype(np.float32)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    sess = ort.InferenceSession(ours.SerializeToString(), providers=["CPUExecutionProvider"])
    y, z, y2 = sess.run(None, {"A": a, "X": x})
    np.testing.assert_array_equal(z, w + w)
    np.testing.assert_allclose(y2, a @ x, rtol=1e-5, atol=1e-5)
    assert accuracy(a @ w, y)[2] >= MIN_COSINE[4]


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_weight_is_an_error(tmp_path, bad):
    model = make_model(64, 4, seed=4)
    set_weight_value(model, (40, 2), bad)
    proc, dst = run_olive(model, tmp_path, "block_size=32", expect_ok=False)
    assert proc.returncode == 1
    assert "'W'" in proc.stderr and "[40, 2]" in proc.stderr, proc.stderr
    assert not dst.exists(), "a failed pass must not write an output"


@pytest.mark.parametrize("setting", ["bits=3", "bits=16", "block_size=48", "block_size=512", "algorithm=gptq",
                                     "accuracy_level=5"])
def test_bad_parameters(tmp_path, setting):
    proc, dst = run_olive(make_model(32, 2, seed=1), tmp_path, setting, expect_ok=False)
    assert proc.returncode == 1
    assert setting.split("=")[0] in proc.stderr, proc.stderr
    assert not dst.exists()


# Weights of a few hundred thousand values: their bands are spread over threads and their
# columns over vector lanes, tile transposes and a partial last tile.
LARGE = [(1027, 300, 32, "default", 4, False, np.float32), (1024, 272, 64, "rtn", 4, False, np.float32),
         (600, 520, 16, "default", 8, True, np.float16), (700, 400, 128, "rtn", 8, True, np.float32)]


@pytest.mark.parametrize("case", LARGE, ids=lambda c: "K%dN%dB%d-%s-%dbit-%s-%s" % (
    c[0], c[1], c[2], c[3], c[4], "sym" if c[5] else "asym", np.dtype(c[6]).name))
def test_large_weight_matches_onnxruntime(tmp_path, case):
    k, n, block_size, algorithm, bits, symmetric, dtype = case
    if not HAVE_ONNX_IR:
        pytest.skip("onnxruntime's quantizer needs the onnx_ir package")
    model = make_model(k, n, seed=k + n, dtype=dtype)
    ours = run_olive(model, tmp_path, f"bits={bits}", f"block_size={block_size}",
                     f"is_symmetric={'true' if symmetric else 'false'}", f"algorithm={algorithm}")
    got, _ = nbits_tensors(ours)
    assert_same_tensors(got, nbits_tensors(ort_quantize(model, algorithm, bits, block_size, symmetric))[0])


def test_external_data_weight(tmp_path):
    """A weight in an external data file (mapped, its pages dropped once read) quantizes to the
    same bytes as one stored inline."""
    model = make_model(512, 64, seed=6)
    src = tmp_path / "ext.onnx"
    # onnx.save moves the data of the proto it is given: save a copy.
    onnx.save(copy.deepcopy(model), str(src), save_as_external_data=True, location="ext.data", size_threshold=0)
    dst = tmp_path / "ext_q.onnx"
    proc = subprocess.run([TOOL, "quantize", str(src), str(dst), "block_size=64", "is_symmetric=false"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got, _ = nbits_tensors(onnx.load(str(dst)))
    inline, _ = nbits_tensors(run_olive(model, tmp_path, "block_size=64", "is_symmetric=false"))
    assert_same_tensors(got, inline)
    assert_same_tensors(got, mlas_tensors(numpy_helper.to_array(model.graph.initializer[0]), 4, 64, False))


@pytest.mark.parametrize("level,warned", [("0", True), ("4", False)])
def test_eight_bits_without_int8_compute_warns(tmp_path, level, warned):
    """8-bit blocks at accuracy_level 0 take ONNX Runtime's slow CPU path: the pass says so."""
    src = tmp_path / "m.onnx"
    onnx.save(make_model(64, 32, seed=7), str(src))
    proc = subprocess.run([TOOL, "quantize", str(src), str(tmp_path / "q.onnx"), "bits=8", f"accuracy_level={level}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert ("accuracy_level=4" in proc.stderr) == warned, proc.stderr
