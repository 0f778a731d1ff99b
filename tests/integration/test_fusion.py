"""The fuse pass, run through $OLIVE_APPLY_PASS.

On the exported Hugging Face fixtures of tests/data/fusion (see make_fixtures.py) the fused
operator counts must equal those of onnxruntime's transformers optimizer recorded in refs.json,
and onnxruntime must give the unfused model's outputs within 1e-4. Graphs built here with
onnx.helper check each fusion's guards: a near miss (a constant out of range, an intermediate
read elsewhere, ...) stays unfused and exact, while the same graph without the flaw fuses."""

import json
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
DATA = os.path.join(os.path.dirname(__file__), "..", "data", "fusion")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

with open(os.path.join(DATA, "refs.json")) as f:
    REFS = json.load(f)
FIXTURES = sorted(k for k in REFS if not k.startswith("_"))
F = TensorProto.FLOAT


def run_fuse(src, dst, *params, expect_ok=True):
    proc = subprocess.run([TOOL, "fuse", str(src), str(dst), *params], capture_output=True, text=True, timeout=300)
    if expect_ok:
        assert proc.returncode == 0, f"apply_pass failed ({proc.returncode}): {proc.stderr.strip()}"
    return proc


def same_files(a, b):
    """Two saved models are byte-identical, with their external data files if any (they are
    saved under the same file name in different folders, so references match too)."""
    assert a.name == b.name
    assert a.read_bytes() == b.read_bytes()
    for da, db in ((a.parent / (a.name + ".data"), b.parent / (b.name + ".data")),):
        assert da.exists() == db.exists()
        if da.exists():
            assert da.read_bytes() == db.read_bytes()
    return True


def in_dir(tmp_path, sub):
    d = tmp_path / sub
    d.mkdir(exist_ok=True)
    return d / "model.onnx"


def op_counts(model):
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def run_ort(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {o.name: v for o, v in zip(sess.get_outputs(), sess.run(None, feeds))}


def check_if_standard(model):
    """onnx's checker, for models whose ops it knows: contrib ops that onnxruntime registers in
    the default domain (SimplifiedLayerNormalization, LayerNormalization before opset 17) are
    not in the ONNX schema, as in onnxruntime's own optimizer output."""
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    for n in model.graph.node:
        if n.domain in ("", "ai.onnx") and (n.op_type == "SimplifiedLayerNormalization" or
                                            (n.op_type == "LayerNormalization" and opset < 17)):
            return
    onnx.checker.check_model(model)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_matches_onnxruntime(name, tmp_path):
    ref = REFS[name]
    src = os.path.join(DATA, name + ".onnx")
    dst = tmp_path / "fused.onnx"
    run_fuse(src, dst, f"model_type={ref['model_type']}", f"num_heads={ref['num_heads']}",
             f"hidden_size={ref['hidden_size']}")
    fused = onnx.load(str(dst))
    check_if_standard(fused)
    if ref["fused"] is not None:
        counts = op_counts(fused)
        got = {op: counts.get(op, 0) for op in ref["fused"]}
        assert got == ref["fused"], f"fused op counts differ from onnxruntime's: ours {got}, ort {ref['fused']}"
    data = np.load(os.path.join(DATA, name + ".npz"))
    feeds = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
    outs = run_ort(dst, feeds)
    for k in data.files:
        if k.startswith("out_"):
            np.testing.assert_allclose(outs[k[4:]], data[k], rtol=1e-4, atol=1e-4, err_msg=f"{name}: {k[4:]}")


@pytest.mark.parametrize("name", [k for k in FIXTURES if REFS[k].get("fused_mha")])
def test_fixture_multi_head_attention_matches_onnxruntime(name, tmp_path):
    """use_multi_head_attention=true against onnxruntime's FusionOptions.use_multi_head_attention."""
    ref = REFS[name]
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, name + ".onnx"), dst, f"model_type={ref['model_type']}", "use_multi_head_attention=true")
    counts = op_counts(onnx.load(str(dst)))
    got = {op: counts.get(op, 0) for op in ref["fused_mha"]}
    assert got == ref["fused_mha"], f"fused op counts differ from onnxruntime's: ours {got}, ort {ref['fused_mha']}"
    data = np.load(os.path.join(DATA, name + ".npz"))
    outs = run_ort(dst, {k[3:]: data[k] for k in data.files if k.startswith("in_")})
    for k in data.files:
        if k.startswith("out_"):
            np.testing.assert_allclose(outs[k[4:]], data[k], rtol=1e-4, atol=1e-4, err_msg=f"{name}: {k[4:]}")


@pytest.mark.parametrize("name", ["bert_op14", "gpt2_op17", "llama_op18_dynamo"])
def test_auto_model_type_fuses_like_the_named_type(name, tmp_path):
    ref = REFS[name]
    src = os.path.join(DATA, name + ".onnx")
    named, auto = in_dir(tmp_path, "named"), in_dir(tmp_path, "auto")
    run_fuse(src, named, f"model_type={ref['model_type']}", f"num_heads={ref['num_heads']}",
             f"hidden_size={ref['hidden_size']}")
    run_fuse(src, auto)
    assert same_files(named, auto)


@pytest.mark.parametrize("name", ["bert_op14", "roberta_op18_dynamo", "gpt2_op14", "qwen2_op17"])
def test_fusing_twice_changes_nothing(name, tmp_path):
    src = os.path.join(DATA, name + ".onnx")
    once, twice = in_dir(tmp_path, "once"), in_dir(tmp_path, "twice")
    run_fuse(src, once)
    run_fuse(once, twice)
    assert same_files(once, twice)


def test_optimization_options_turn_fusions_off(tmp_path):
    src = os.path.join(DATA, "bert_op17.onnx")
    some, js = in_dir(tmp_path, "some"), in_dir(tmp_path, "json")
    run_fuse(src, tmp_path / "all.onnx")
    run_fuse(src, some, "optimization_options=enable_gelu=false,enable_skip_layer_norm=0")
    all_ops, some_ops = op_counts(onnx.load(str(tmp_path / "all.onnx"))), op_counts(onnx.load(str(some)))
    assert all_ops.get("BiasGelu", 0) == 2 and all_ops.get("SkipLayerNormalization", 0) == 4
    assert "BiasGelu" not in some_ops and "Gelu" not in some_ops and "SkipLayerNormalization" not in some_ops
    assert some_ops.get("Erf", 0) == 2
    run_fuse(src, js, 'optimization_options={"enable_gelu":false,"enable_skip_layer_norm":false}')
    assert same_files(some, js)


def test_bad_options_are_rejected_by_name(tmp_path):
    src = os.path.join(DATA, "bert_op17.onnx")
    proc = run_fuse(src, tmp_path / "x.onnx", "optimization_options=enable_gelu=maybe", expect_ok=False)
    assert proc.returncode == 1 and "enable_gelu" in proc.stderr
    proc = run_fuse(src, tmp_path / "y.onnx", "optimization_options=enable_everything=true", expect_ok=False)
    assert proc.returncode == 1 and "enable_everything" in proc.stderr
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


def test_only_onnxruntime_leaves_the_graph(tmp_path):
    src = os.path.join(DATA, "bert_op17.onnx")
    run_fuse(src, tmp_path / "o.onnx", "only_onnxruntime=true")
    assert op_counts(onnx.load(str(tmp_path / "o.onnx"))) == op_counts(onnx.load(src))


def test_float16_after_fusion(tmp_path):
    name = "bert_op17"
    src = os.path.join(DATA, name + ".onnx")
    run_fuse(src, tmp_path / "h.onnx", "float16=true", "keep_io_types=true")
    m = onnx.load(str(tmp_path / "h.onnx"))
    assert op_counts(m).get("SkipLayerNormalization", 0) == 4
    assert all(t.data_type != F for t in m.graph.initializer if len(t.dims) >= 1 and np.prod(t.dims) > 1)
    data = np.load(os.path.join(DATA, name + ".npz"))
    feeds = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
    out = run_ort(tmp_path / "h.onnx", feeds)["last_hidden_state"]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, data["out_last_hidden_state"], atol=3e-2)


# ---- near misses, built with onnx.helper ----

def save(model, path):
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def const(name, value):
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def layernorm_model(eps=1e-5, extra_output=None, axes=(-1,), extra_shape=(2, 3, 1)):
    """x -> decomposed LayerNorm (opset 17, ReduceMean axes attribute) -> y."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=list(axes)),
        helper.make_node("Sub", ["x", "mean"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["d2"]),
        helper.make_node("ReduceMean", ["d2"], ["var"], axes=list(axes)),
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["std"]),
        helper.make_node("Div", ["d", "std"], ["n"]),
        helper.make_node("Mul", ["n", "w"], ["nw"]),
        helper.make_node("Add", ["nw", "b"], ["y"]),
    ]
    rng = np.random.default_rng(0)
    inits = [const("two", 2.0), const("eps", eps), const("w", rng.standard_normal(8)), const("b", rng.standard_normal(8))]
    outputs = [helper.make_tensor_value_info("y", F, [2, 3, 8])]
    if extra_output:
        outputs.append(helper.make_tensor_value_info(extra_output, F, extra_shape))
    g = helper.make_graph(nodes, "ln", [helper.make_tensor_value_info("x", F, [2, 3, 8])], outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def gelu_model(sqrt2=1.4142135623730951, half=0.5, extra_output=None, extra_shape=(2, 3, 8)):
    """x -> MatMul -> Add(bias) -> exact GELU (erf form) -> y."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "bias"], ["h"]),
        helper.make_node("Div", ["h", "sqrt2"], ["hd"]),
        helper.make_node("Erf", ["hd"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["e1"]),
        helper.make_node("Mul", ["h", "half"], ["hh"]),
        helper.make_node("Mul", ["hh", "e1"], ["y"]),
    ]
    inits = [const("W", rng.standard_normal((8, 8))), const("bias", rng.standard_normal(8)), const("sqrt2", sqrt2),
             const("one", 1.0), const("half", half)]
    outputs = [helper.make_tensor_value_info("y", F, [2, 3, 8])]
    if extra_output:
        outputs.append(helper.make_tensor_value_info(extra_output, F, extra_shape))
    g = helper.make_graph(nodes, "gelu", [helper.make_tensor_value_info("x", F, [2, 3, 8])], outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def rmsnorm_model(eps=1e-6, extra_output=None, extra_shape=(2, 3, 1)):
    """x -> Pow(2) -> ReduceMean -> Add(eps) -> Sqrt -> Reciprocal -> Mul(x) -> Mul(w) -> y."""
    nodes = [
        helper.make_node("Pow", ["x", "two"], ["x2"]),
        helper.make_node("ReduceMean", ["x2"], ["ms"], axes=[-1]),
        helper.make_node("Add", ["ms", "eps"], ["mse"]),
        helper.make_node("Sqrt", ["mse"], ["rms"]),
        helper.make_node("Reciprocal", ["rms"], ["inv"]),
        helper.make_node("Mul", ["x", "inv"], ["n"]),
        helper.make_node("Mul", ["w", "n"], ["y"]),
    ]
    rng = np.random.default_rng(2)
    inits = [const("two", 2.0), const("eps", eps), const("w", rng.standard_normal(8))]
    outputs = [helper.make_tensor_value_info("y", F, [2, 3, 8])]
    if extra_output:
        outputs.append(helper.make_tensor_value_info(extra_output, F, extra_shape))
    g = helper.make_graph(nodes, "rms", [helper.make_tensor_value_info("x", F, [2, 3, 8])], outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def fuse_and_compare(model, tmp_path, tol=1e-5):
    src = save(model, tmp_path / "in.onnx")
    dst = tmp_path / "out.onnx"
    run_fuse(src, dst)
    x = np.random.default_rng(3).standard_normal((2, 3, 8)).astype(np.float32)
    want, got = run_ort(src, {"x": x}), run_ort(dst, {"x": x})
    assert want.keys() == got.keys()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=tol, atol=tol, err_msg=k)
    return op_counts(onnx.load(str(dst)))


def test_layernorm_fuses(tmp_path):
    counts = fuse_and_compare(layernorm_model(), tmp_path)
    assert counts == {"LayerNormalization": 1}


def test_layernorm_epsilon_out_of_range_is_not_fused(tmp_path):
    counts = fuse_and_compare(layernorm_model(eps=1e-3), tmp_path)
    assert "LayerNormalization" not in counts and counts["ReduceMean"] == 2


def test_layernorm_over_another_axis_is_not_fused(tmp_path):
    counts = fuse_and_compare(layernorm_model(axes=(1,)), tmp_path)
    assert "LayerNormalization" not in counts


def test_layernorm_with_intermediate_read_elsewhere_is_not_fused(tmp_path):
    counts = fuse_and_compare(layernorm_model(extra_output="var"), tmp_path)
    assert "LayerNormalization" not in counts and counts["Sqrt"] == 1


def test_bias_gelu_fuses(tmp_path):
    counts = fuse_and_compare(gelu_model(), tmp_path)
    assert counts == {"MatMul": 1, "BiasGelu": 1}


def test_gelu_with_wrong_constant_is_not_fused(tmp_path):
    counts = fuse_and_compare(gelu_model(sqrt2=1.5), tmp_path)
    assert "Gelu" not in counts and "BiasGelu" not in counts and counts["Erf"] == 1
    counts = fuse_and_compare(gelu_model(half=0.6), tmp_path)
    assert "Gelu" not in counts and "BiasGelu" not in counts and counts["Erf"] == 1


def test_gelu_with_intermediate_read_elsewhere_is_not_fused(tmp_path):
    counts = fuse_and_compare(gelu_model(extra_output="e"), tmp_path)
    assert "Gelu" not in counts and "BiasGelu" not in counts and counts["Erf"] == 1


def test_gelu_approximation_option(tmp_path):
    src = save(gelu_model(), tmp_path / "in.onnx")
    run_fuse(src, tmp_path / "out.onnx", "enable_gelu_approximation=true")
    counts = op_counts(onnx.load(str(tmp_path / "out.onnx")))
    assert counts == {"MatMul": 1, "FastGelu": 1}
    x = np.random.default_rng(3).standard_normal((2, 3, 8)).astype(np.float32)
    np.testing.assert_allclose(run_ort(tmp_path / "out.onnx", {"x": x})["y"], run_ort(src, {"x": x})["y"], atol=2e-2)


def test_rmsnorm_fuses(tmp_path):
    counts = fuse_and_compare(rmsnorm_model(), tmp_path)
    assert counts == {"SimplifiedLayerNormalization": 1}


def test_rmsnorm_epsilon_out_of_range_is_not_fused(tmp_path):
    counts = fuse_and_compare(rmsnorm_model(eps=0.01), tmp_path)
    assert "SimplifiedLayerNormalization" not in counts


def test_rmsnorm_with_intermediate_read_elsewhere_is_not_fused(tmp_path):
    counts = fuse_and_compare(rmsnorm_model(extra_output="rms"), tmp_path)
    assert "SimplifiedLayerNormalization" not in counts and counts["Sqrt"] == 1


def skip_model(extra_sum_output=False, runtime_shape=False):
    """residual Add of two 3-D activations -> LayerNormalization (opset 17). With runtime_shape
    the input passes through a Reshape to a shape given as a graph input, so its rank is not
    known before running."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "bias"], ["h"]),
        helper.make_node("Add", ["h", "x"], ["s"]),
        helper.make_node("LayerNormalization", ["s", "g", "b"], ["y"], epsilon=1e-5),
    ]
    inits = [const("W", rng.standard_normal((8, 8))), const("bias", rng.standard_normal(8)),
             const("g", rng.standard_normal(8)), const("b", rng.standard_normal(8))]
    outputs = [helper.make_tensor_value_info("y", F, [2, 3, 8])]
    if extra_sum_output:
        outputs.append(helper.make_tensor_value_info("s", F, [2, 3, 8]))
    inputs = [helper.make_tensor_value_info("x", F, [2, 3, 8])]
    if runtime_shape:
        nodes.insert(0, helper.make_node("Reshape", ["x0", "shape"], ["x"]))
        inputs = [helper.make_tensor_value_info("x0", F, [2, 3, 8]),
                  helper.make_tensor_value_info("shape", TensorProto.INT64, [3])]
    g = helper.make_graph(nodes, "skip", inputs, outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_skip_layernorm_with_bias_fuses(tmp_path):
    counts = fuse_and_compare(skip_model(), tmp_path)
    assert counts == {"MatMul": 1, "SkipLayerNormalization": 1}
    node = next(n for n in onnx.load(str(tmp_path / "out.onnx")).graph.node if n.op_type == "SkipLayerNormalization")
    assert len(node.input) == 5 and node.input[4] == "bias"


def test_skip_layernorm_keeps_a_sum_read_elsewhere(tmp_path):
    counts = fuse_and_compare(skip_model(extra_sum_output=True), tmp_path)
    assert counts.get("SkipLayerNormalization") == 1
    node = next(n for n in onnx.load(str(tmp_path / "out.onnx")).graph.node if n.op_type == "SkipLayerNormalization")
    assert list(node.output) == ["y", "", "", "s"]


def test_skip_layernorm_with_unknown_ranks_is_not_fused(tmp_path):
    src = save(skip_model(runtime_shape=True), tmp_path / "in.onnx")
    dst = tmp_path / "out.onnx"
    run_fuse(src, dst)
    feeds = {"x0": np.random.default_rng(3).standard_normal((2, 3, 8)).astype(np.float32),
             "shape": np.array([2, 3, 8], dtype=np.int64)}
    np.testing.assert_allclose(run_ort(dst, feeds)["y"], run_ort(src, feeds)["y"], rtol=1e-5, atol=1e-5)
    counts = op_counts(onnx.load(str(dst)))
    assert "SkipLayerNormalization" not in counts and counts["LayerNormalization"] == 1


def attention_model(mask_rank=2, scale=2.0):
    """One BERT self-attention block (opset 17): Q, K, V projections, scores / sqrt(head),
    additive mask (1 - mask) * -10000 from an int64 attention mask, Softmax, context, output
    projection, residual and LayerNormalization. mask_rank=3 gives a (B, S, S) mask unsqueezed
    once: not the 2-D padding mask the fused op takes."""
    rng = np.random.default_rng(5)
    H, N = 8, 2
    nodes, inits = [], [const("one", 1.0), const("neg", -10000.0), const("scale", scale),
                        numpy_helper.from_array(np.array([0, 0, N, H // N], dtype=np.int64), "heads_shape"),
                        numpy_helper.from_array(np.array([0, 0, H], dtype=np.int64), "merge_shape"),
                        numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"),
                        numpy_helper.from_array(np.array([2], dtype=np.int64), "ax2"),
                        const("g", 1 + 0.1 * rng.standard_normal(H)), const("b", 0.1 * rng.standard_normal(H))]
    for p, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        inits += [const("W" + p, rng.standard_normal((H, H)) / 3), const("b" + p, 0.1 * rng.standard_normal(H))]
        nodes += [helper.make_node("MatMul", ["x", "W" + p], [p + "_mm"]),
                  helper.make_node("Add", ["b" + p, p + "_mm"], [p + "_b"]),
                  helper.make_node("Reshape", [p + "_b", "heads_shape"], [p + "_r"]),
                  helper.make_node("Transpose", [p + "_r"], [p + "_t"], perm=perm)]
    inits += [const("Wo", rng.standard_normal((H, H)) / 3), const("bo", 0.1 * rng.standard_normal(H))]
    if mask_rank == 2:
        nodes += [helper.make_node("Unsqueeze", ["mask", "ax1"], ["m1"]),
                  helper.make_node("Unsqueeze", ["m1", "ax2"], ["m2"])]
    else:
        nodes += [helper.make_node("Unsqueeze", ["mask", "ax1"], ["m2"])]
    nodes += [
        helper.make_node("Cast", ["m2"], ["mf"], to=F),
        helper.make_node("Sub", ["one", "mf"], ["inv"]),
        helper.make_node("Mul", ["inv", "neg"], ["madd"]),
        helper.make_node("MatMul", ["q_t", "k_t"], ["s"]),
        helper.make_node("Div", ["s", "scale"], ["ss"]),
        helper.make_node("Add", ["ss", "madd"], ["sm"]),
        helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v_t"], ["ctx"]),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ctx_t", "merge_shape"], ["ctx_r"]),
        helper.make_node("MatMul", ["ctx_r", "Wo"], ["o_mm"]),
        helper.make_node("Add", ["o_mm", "bo"], ["o"]),
        helper.make_node("Add", ["o", "x"], ["res"]),
        helper.make_node("LayerNormalization", ["res", "g", "b"], ["y"], epsilon=1e-12),
    ]
    mask_shape = ["B", "S"] if mask_rank == 2 else ["B", "S", "S"]
    g = helper.make_graph(nodes, "attn", [helper.make_tensor_value_info("x", F, ["B", "S", H]),
                                          helper.make_tensor_value_info("mask", TensorProto.INT64, mask_shape)],
                          [helper.make_tensor_value_info("y", F, ["B", "S", H])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def attention_feeds(mask_rank=2):
    x = np.random.default_rng(6).standard_normal((2, 4, 8)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=np.int64)  # right padding
    if mask_rank == 3:
        mask = np.repeat(mask[:, None, :], 4, axis=1)
    return {"x": x, "mask": mask}


def fuse_attention_and_compare(model, tmp_path, feeds, *params):
    src = save(model, tmp_path / "in.onnx")
    dst = tmp_path / "out.onnx"
    run_fuse(src, dst, "model_type=bert", *params)
    np.testing.assert_allclose(run_ort(dst, feeds)["y"], run_ort(src, feeds)["y"], rtol=1e-5, atol=1e-5)
    return op_counts(onnx.load(str(dst)))


def test_attention_fuses(tmp_path):
    counts = fuse_attention_and_compare(attention_model(), tmp_path, attention_feeds())
    assert counts.get("Attention") == 1 and counts.get("SkipLayerNormalization") == 1
    assert "Softmax" not in counts and counts["MatMul"] == 1


def test_attention_as_multi_head_attention(tmp_path):
    counts = fuse_attention_and_compare(attention_model(), tmp_path, attention_feeds(), "use_multi_head_attention=true")
    assert counts.get("MultiHeadAttention") == 1 and "Attention" not in counts and counts["MatMul"] == 4


def test_attention_with_other_scale_keeps_it(tmp_path):
    counts = fuse_attention_and_compare(attention_model(scale=3.0), tmp_path, attention_feeds())
    assert counts.get("Attention") == 1
    node = next(n for n in onnx.load(str(tmp_path / "out.onnx")).graph.node if n.op_type == "Attention")
    assert any(a.name == "scale" and abs(a.f - 1 / 3.0) < 1e-7 for a in node.attribute)


def test_attention_mask_of_unexpected_shape_is_not_fused(tmp_path):
    counts = fuse_attention_and_compare(attention_model(mask_rank=3), tmp_path, attention_feeds(mask_rank=3))
    assert "Attention" not in counts and counts["Softmax"] == 1


def test_attention_mask_with_small_fill_is_not_fused(tmp_path):
    """transformers' Where(mask, 0, min) with a fill that does not mask: not a padding mask."""
    model = onnx.load(os.path.join(DATA, "bert_op17.onnx"))
    changed = 0
    consts = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
    for n in model.graph.node:
        if n.op_type == "Where" and n.input[2] in consts:
            value = numpy_helper.to_array(consts[n.input[2]].attribute[0].t)
            if value.size == 1 and value.item() < -1e4:
                consts[n.input[2]].attribute[0].t.CopyFrom(numpy_helper.from_array(np.array(-1.0, dtype=value.dtype)))
                changed += 1
    assert changed == 1
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    run_fuse(src, dst, "model_type=bert")
    counts = op_counts(onnx.load(str(dst)))
    assert "Attention" not in counts and counts["Softmax"] == 2 and counts["SkipLayerNormalization"] == 4
    data = np.load(os.path.join(DATA, "bert_op17.npz"))
    feeds = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
    np.testing.assert_allclose(run_ort(dst, feeds)["last_hidden_state"], run_ort(src, feeds)["last_hidden_state"],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("approximate,fused", [("none", "BiasGelu"), ("tanh", "FastGelu")])
def test_onnx_gelu_takes_its_bias(tmp_path, approximate, fused):
    """ONNX's own Gelu (opset 20): the exact one becomes BiasGelu, the tanh one FastGelu with
    bias, never the other way round."""
    rng = np.random.default_rng(7)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"]),
             helper.make_node("Add", ["mm", "bias"], ["h"]),
             helper.make_node("Gelu", ["h"], ["y"], approximate=approximate)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [2, 3, 8])],
                          [helper.make_tensor_value_info("y", F, [2, 3, 8])],
                          [const("W", rng.standard_normal((8, 8))), const("bias", rng.standard_normal(8))])
    counts = fuse_and_compare(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), tmp_path)
    assert counts == {"MatMul": 1, fused: 1}


def test_quick_gelu_fuses(tmp_path):
    nodes = [helper.make_node("Mul", ["x", "alpha"], ["xa"]),
             helper.make_node("Sigmoid", ["xa"], ["s"]),
             helper.make_node("Mul", ["x", "s"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [2, 3, 8])],
                          [helper.make_tensor_value_info("y", F, [2, 3, 8])], [const("alpha", 1.702)])
    counts = fuse_and_compare(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    assert counts == {"QuickGelu": 1}
