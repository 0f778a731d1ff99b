"""The GraphSurgeries pass against Microsoft Olive's own surgeons (olive-ai, pinned in
scripts/requirements-olive.txt). Each test builds a small model with onnx.helper, runs one or more
surgeons through Olive's classes and through $OLIVE_APPLY_PASS, and compares the two results:
the same nodes (op, domain, name, inputs, outputs, attributes), the same initializers (name,
type, shape, bytes) and the same graph inputs and outputs. Where Olive names new values through
onnxscript's rewriter (generated names), the comparison is of the graph's structure with the
names mapped. Both results run in onnxruntime and must agree; where the surgeon keeps the
model's meaning, they must also agree with the original.

Olive is imported through olive_reference.py, with torch and the other packages it imports at
import time stubbed (the surgeons do not use them). Without olive-ai the comparisons skip; the
bad-input tests run anyway."""

import json
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_reference import import_olive  # noqa: E402
from olive_testlib import make_model  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

F, F16, I64, I32, U8, I8 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64, TensorProto.INT32, TensorProto.UINT8, TensorProto.INT8
MS = "com.microsoft"

# ---- Olive ----

def _import_olive():
    def load():
        from olive.passes.onnx import common, graph_surgeries  # noqa: PLC0415, F401
        from onnx_ir.passes.common import DeduplicateHashedInitializersPass  # noqa: PLC0415
        import onnx_ir  # noqa: PLC0415
        return graph_surgeries, DeduplicateHashedInitializersPass, onnx_ir
    return import_olive(load)


OLIVE = _import_olive()
needs_olive = pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed (scripts/requirements-olive.txt)")


def olive_apply(model, surgeries):
    """What Olive's GraphSurgeries pass does: each surgeon by its (case-insensitive) name, then
    initializer de-duplication."""
    gs, dedup, ir = OLIVE
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for s in surgeries:
        params = {k: v for k, v in s.items() if k != "surgeon"}
        m = gs.Surgeon.registry[s["surgeon"].lower()](**params)(m)
    return ir.to_proto(dedup()(ir.from_proto(m)).model)


# ---- libolive ----

def surgeries_arg(surgeries):
    text = json.dumps(surgeries)
    return 'surgeries="' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ours_run(model, surgeries, tmp_path, *extra):
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    if dst.exists():
        dst.unlink()
    proc = subprocess.run([TOOL, "GraphSurgeries", str(src), str(dst), surgeries_arg(surgeries), *extra],
                          capture_output=True, text=True, timeout=60)
    return proc, dst


def ours_apply(model, surgeries, tmp_path):
    proc, dst = ours_run(model, surgeries, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))
    onnx.checker.check_model(out)
    return out


def ours_fails(model, surgeries, tmp_path, *words):
    proc, dst = ours_run(model, surgeries, tmp_path)
    assert proc.returncode != 0
    assert not dst.exists(), "a failed run must write nothing"
    for w in words:
        assert w in proc.stderr, proc.stderr
    return proc.stderr


# ---- comparison ----

def attr_key(a):
    v = helper.get_attribute_value(a)
    if isinstance(v, onnx.TensorProto):
        arr = numpy_helper.to_array(v)
        v = (v.data_type, tuple(arr.shape), arr.tobytes())
    elif isinstance(v, list):
        v = tuple(v)
    elif isinstance(v, float):
        v = float(np.float32(v))
    return (a.name, v)


def init_table(graph):
    out = {}
    for t in graph.initializer:
        arr = numpy_helper.to_array(t)
        out[t.name] = (t.data_type, tuple(t.dims), arr.tobytes())
    return out


def value_infos(vis):
    """Name and element type (0 when none) of graph inputs or outputs, in order."""
    return [(v.name, v.type.tensor_type.elem_type) for v in vis]


def node_keys(graph):
    return sorted((n.op_type, n.domain or "", n.name, tuple(n.input), tuple(n.output),
                   tuple(sorted(attr_key(a) for a in n.attribute))) for n in graph.node)


def assert_same_graph(ours, theirs):
    assert node_keys(ours.graph) == node_keys(theirs.graph)
    assert init_table(ours.graph) == init_table(theirs.graph)
    assert value_infos(ours.graph.input) == value_infos(theirs.graph.input)
    assert [v.name for v in ours.graph.output] == [v.name for v in theirs.graph.output]


def canonical(graph):
    """The graph with every non-interface value named by where it is produced (node index in a
    canonical order, output index) and initializers by content, so that two graphs built with
    different names for their new values compare equal when their structure is."""
    interface = {v.name for v in graph.input} | {v.name for v in graph.output}
    inits = {t.name: ("init", t.data_type, tuple(t.dims), numpy_helper.to_array(t).tobytes()) for t in graph.initializer}
    names = {}
    for n in [n for n in graph.node if n.op_type == "Constant"]:
        for o in n.output:
            names[o] = ("const",) + tuple(sorted(attr_key(a) for a in n.attribute))

    def name_of(v):
        if v == "" or v in interface:
            return v
        return names.get(v) or inits.get(v) or ("?", v)

    pending = [n for n in graph.node if n.op_type != "Constant"]
    nodes = []
    while pending:  # name each node's outputs by its op and (already named) inputs
        progress = False
        for n in list(pending):
            ins = [name_of(i) for i in n.input]
            if any(isinstance(i, tuple) and i[0] == "?" for i in ins):
                continue
            key = (n.op_type, n.domain or "", tuple(ins), tuple(sorted(attr_key(a) for a in n.attribute)))
            for k, o in enumerate(n.output):
                if o and o not in interface:
                    names[o] = ("out", key, k)
            nodes.append((key, tuple(name_of(o) for o in n.output)))
            pending.remove(n)
            progress = True
        if not progress:
            raise AssertionError(f"cannot name inputs of {[n.name for n in pending]}")
    return sorted(map(repr, nodes))


def assert_same_structure(ours, theirs):
    assert canonical(ours.graph) == canonical(theirs.graph)
    assert [v.name for v in ours.graph.input] == [v.name for v in theirs.graph.input]
    assert [v.name for v in ours.graph.output] == [v.name for v in theirs.graph.output]


NP = {F: np.float32, F16: np.float16, I64: np.int64, I32: np.int32, U8: np.uint8, I8: np.int8,
      TensorProto.BOOL: np.bool_}


def feeds_for(model, seed=0):
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for v in model.graph.input:
        if v.name in inits:
            continue
        tt = v.type.tensor_type
        shape = [d.dim_value if d.dim_value > 0 else 2 for d in tt.shape.dim]
        dt = NP[tt.elem_type]
        if np.issubdtype(dt, np.integer):
            feeds[v.name] = rng.integers(0, 4, shape).astype(dt)
        else:
            feeds[v.name] = rng.standard_normal(shape).astype(dt)
    return feeds


def run_ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {k: feeds[k] for k in names})))


def assert_runs_alike(a, b, feeds, rtol=1e-5, atol=1e-6):
    ra, rb = run_ort(a, feeds), run_ort(b, feeds)
    assert sorted(ra) == sorted(rb)
    for k in ra:
        np.testing.assert_allclose(ra[k].astype(np.float64), rb[k].astype(np.float64), rtol=rtol, atol=atol, err_msg=k)


def check(model, surgeries, tmp_path, exact=True, same_as_input=True, rtol=1e-5, atol=1e-6):
    """Runs both, compares graphs, and runs both (and the input when the meaning is kept)."""
    ours = ours_apply(model, surgeries, tmp_path)
    if OLIVE is None:
        pytest.skip("olive-ai is not installed")
    theirs = olive_apply(model, surgeries)
    if exact:
        assert_same_graph(ours, theirs)
    else:
        assert_same_structure(ours, theirs)
    feeds = feeds_for(ours)
    assert_runs_alike(ours, theirs, feeds, rtol, atol)
    if same_as_input:
        assert_runs_alike(ours, model, feeds, rtol, atol)
    return ours


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def rand(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---- interface surgeons ----

def two_input_model():
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add0"),
             helper.make_node("Mul", ["s", "w"], ["m"], name="mul0"),
             helper.make_node("Relu", ["m"], ["y"], name="relu0")]
    return make_model(nodes, [vi("a", F, [2, 3]), vi("b", F, [2, 3])], [vi("y", F, [2, 3])],
                      [init("w", rand([2, 3], 1))], value_info=[vi("s", F, [2, 3]), vi("m", F, [2, 3])])


@needs_olive
def test_rename_inputs_and_outputs(tmp_path):
    check(two_input_model(), [{"surgeon": "RenameInputs", "old_names": ["a", "b"], "new_names": ["x0", "x1"]},
                              {"surgeon": "renameoutputs", "old_names": ["y"], "new_names": ["out"]}],
          tmp_path, same_as_input=False)


@needs_olive
def test_reorder_expose_and_dims(tmp_path):
    out = check(two_input_model(), [{"surgeon": "ReorderInputs", "permutation": [1, 0]},
                                    {"surgeon": "ExposeOutputs", "names": ["mul0", "add0"]},
                                    {"surgeon": "RenameInputDims", "input_name": "b", "dim_idx": 0, "dim_name": "batch"},
                                    {"surgeon": "RenameOutputDims", "output_idx": 0, "dim_idx": 1, "dim_name": "n"}],
                tmp_path, same_as_input=False)
    assert out.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert out.graph.output[0].type.tensor_type.shape.dim[1].dim_param == "n"


@needs_olive
def test_remove_initializer_from_inputs(tmp_path):
    m = two_input_model()
    m.graph.input.append(vi("w", F, [2, 3]))
    check(m, [{"surgeon": "RemoveInitializerFromInputs"}], tmp_path)


@needs_olive
def test_remove_inputs(tmp_path):
    # A Concat reading the removed input keeps its other inputs.
    nodes = [helper.make_node("Concat", ["a", "b"], ["c"], name="cat", axis=0),
             helper.make_node("Relu", ["c"], ["y"], name="relu0")]
    m = make_model(nodes, [vi("a", F, [2, 3]), vi("b", F, [2, 3])], [vi("y", F, [None, 3])])
    out = check(m, [{"surgeon": "RemoveInputs", "names": ["b"]}], tmp_path, same_as_input=False)
    assert [i.name for i in out.graph.input] == ["a"]


@needs_olive
def test_zero_out_input(tmp_path):
    out = check(two_input_model(), [{"surgeon": "ZeroOutInput", "node_name": "mul0", "input_idx": 0}], tmp_path,
                same_as_input=False)
    res = run_ort(out, feeds_for(out))
    assert not res["y"].any()


@needs_olive
def test_expose_quantized_output(tmp_path):
    nodes = [helper.make_node("QuantizeLinear", ["x", "sc", "zp"], ["q"], name="q0"),
             helper.make_node("DequantizeLinear", ["q", "sc", "zp"], ["y"], name="dq0")]
    m = make_model(nodes, [vi("x", F, [4])], [vi("y", F, [4])],
                   [init("sc", np.array([0.05], np.float32)), init("zp", np.array([3], np.uint8))])
    out = ours_apply(m, [{"surgeon": "ExposeQuantizedOutput", "output_name": "y"}], tmp_path)
    theirs = olive_apply(m, [{"surgeon": "ExposeQuantizedOutput", "output_name": "y"}])
    assert_same_graph(out, theirs)
    assert value_infos(out.graph.output) == value_infos(theirs.graph.output)
    res = run_ort(out, {"x": np.array([0.0, 0.1, -0.1, 1.0], np.float32)})
    np.testing.assert_array_equal(res["q"], [3, 5, 1, 23])
    assert res["y_exposed_scale_output"][0] == np.float32(0.05) and res["y_exposed_zero_point_output"][0] == 3


# ---- bad input ----

def test_unknown_surgeon_lists_known(tmp_path):
    err = ours_fails(two_input_model(), [{"surgeon": "RenameInput", "old_names": ["a"], "new_names": ["x"]}],
                     tmp_path, "unknown surgeon 'RenameInput'", "RenameInputs", "TieWordEmbeddings")
    assert "known surgeons" in err


@pytest.mark.parametrize("entry,words", [
    ({"surgeon": "RenameInputs", "old_names": "a", "new_names": ["x"]}, ["RenameInputs", "old_names", "list of strings"]),
    ({"surgeon": "RenameInputs", "new_names": ["x"]}, ["RenameInputs", "old_names"]),
    ({"surgeon": "ReorderInputs", "permutation": [0, 0]}, ["ReorderInputs", "permutation"]),
    ({"surgeon": "ReorderInputs", "permutation": ["0", "1"]}, ["ReorderInputs", "permutation", "integers"]),
    ({"surgeon": "RenameInputs", "old_names": ["nope"], "new_names": ["x"]}, ["old_names", "'nope'", "a, b"]),
    ({"surgeon": "RenameInputs", "old_names": ["a"], "new_names": ["b"]}, ["new_names", "'b'"]),
    ({"surgeon": "RemoveInputs", "names": ["nope"]}, ["RemoveInputs", "names", "'nope'"]),
    ({"surgeon": "ExposeOutputs", "names": ["nope"]}, ["ExposeOutputs", "names", "'nope'"]),
    ({"surgeon": "ZeroOutInput", "node_name": "nope", "input_idx": 0}, ["ZeroOutInput", "node_name", "'nope'"]),
    ({"surgeon": "ZeroOutInput", "node_name": "mul0", "input_idx": 5}, ["ZeroOutInput", "input_idx"]),
    ({"surgeon": "ExposeQuantizedOutput", "output_name": "nope"}, ["ExposeQuantizedOutput", "output_name"]),
    ({"surgeon": "RenameOutputDims", "output_idx": 3, "dim_idx": 0, "dim_name": "n"}, ["output_idx", "out of range"]),
    ({"surgeon": "RenameInputDims", "dim_idx": 0, "dim_name": "n"}, ["RenameInputDims", "input_name"]),
    ({"nosurgeon": "x"}, ["surgeries[1]", "surgeon"]),
])
def test_bad_parameters(tmp_path, entry, words):
    # A valid first entry shows that nothing is written when a later one fails.
    ours_fails(two_input_model(), [{"surgeon": "RenameOutputs", "old_names": ["y"], "new_names": ["z"]}, entry],
               tmp_path, *words)


def test_not_a_list(tmp_path):
    proc, dst = ours_run(two_input_model(), [], tmp_path)
    assert proc.returncode == 0
    src = tmp_path / "in.onnx"
    for text, word in ((surgeries_arg({"surgeon": "InferShapes"}), "list"), ("surgeries=[{", "not JSON")):
        p = subprocess.run([TOOL, "GraphSurgeries", str(src), str(tmp_path / "bad.onnx"), text], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode != 0 and word in p.stderr, p.stderr
        assert not (tmp_path / "bad.onnx").exists()


# ---- embeddings and LM head ----

V, H = 16, 64


def embed_model(embed, head_matmul=None, dtype=F, ms=False):
    """input_ids -> Gather(embed) -> Relu -> LM head -> logits. `head_matmul` is the MatMul weight
    (default: the embedding transposed, i.e. tied weights)."""
    w = embed if head_matmul is None else head_matmul
    head_w = np.ascontiguousarray(embed.T) if head_matmul is None else w
    nodes = [helper.make_node("Gather", ["model.embed_tokens.weight", "input_ids"], ["h"], name="/model/embed_tokens/Gather"),
             helper.make_node("Relu", ["h"], ["r"], name="/model/relu"),
             helper.make_node("MatMul", ["r", "lm_head.weight"], ["logits"], name="/lm_head/MatMul")]
    opset = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(MS, 1)] if ms else [])
    g = helper.make_graph(nodes, "g", [vi("input_ids", I64, [1, 5])], [vi("logits", dtype, [1, 5, V])],
                          [init("model.embed_tokens.weight", embed), init("lm_head.weight", head_w)])
    m = helper.make_model(g, opset_imports=opset)
    m.ir_version = 8
    return m


@needs_olive
def test_tie_word_embeddings_unquantized(tmp_path):
    m = embed_model(rand([V, H], 3))
    out = check(m, [{"surgeon": "TieWordEmbeddings"}], tmp_path)
    assert "lm_head.weight" not in init_table(out.graph)
    assert {n.op_type for n in out.graph.node} >= {"Gemm", "Shape", "Slice", "Concat", "Reshape"}


@needs_olive
def test_tie_word_embeddings_different_weights_unchanged(tmp_path):
    m = embed_model(rand([V, H], 3), head_matmul=rand([H, V], 4))
    out = check(m, [{"surgeon": "TieWordEmbeddings"}], tmp_path)
    assert "MatMul" in {n.op_type for n in out.graph.node}


@needs_olive
@pytest.mark.parametrize("dtype", [F, F16])
def test_quantize_embedding_int8_and_share(tmp_path, dtype):
    npdt = NP[dtype]
    embed = rand([V, H], 5, npdt)
    embed[3, :32] = 0  # an all-zero block: scale 0 stands for 1
    m = embed_model(embed, dtype=dtype)
    # An int4 MatMulNBits LM head, as a quantized decoder has.
    head = helper.make_node("MatMulNBits", ["r", "lm_head.qweight", "lm_head.scales"], ["logits"],
                            name="/lm_head/MatMulNBits", domain=MS, K=H, N=V, bits=4, block_size=32)
    m.graph.node.remove(m.graph.node[2])
    m.graph.node.append(head)
    m.graph.initializer.remove(m.graph.initializer[1])
    rng = np.random.default_rng(6)
    m.graph.initializer.extend([init("lm_head.qweight", rng.integers(0, 255, [V, H // 32, 16]).astype(np.uint8)),
                                init("lm_head.scales", (rng.random(V * H // 32) * 0.1).astype(npdt))])
    m.opset_import.append(helper.make_opsetid(MS, 1))
    surgeries = [{"surgeon": "QuantizeEmbeddingInt8"}]
    q = check(m, surgeries, tmp_path, same_as_input=False)
    assert {n.op_type for n in q.graph.node} >= {"GatherBlockQuantized"}
    # The dequantized embedding is within half a step of the original.
    t = init_table(q.graph)
    qw = numpy_helper.to_array(next(i for i in q.graph.initializer if i.name.endswith("_Q8"))).astype(np.float32)
    sc = numpy_helper.to_array(next(i for i in q.graph.initializer if i.name.endswith("_scales"))).astype(np.float32)
    deq = ((qw - 128).reshape(V, H // 32, 32) * sc[:, :, None]).reshape(V, H)
    assert np.abs(deq - embed.astype(np.float32)).max() <= sc.max() * 0.5 + 1e-3
    assert "model.embed_tokens.weight" not in t
    both = check(m, surgeries + [{"surgeon": "ShareEmbeddingLmHead"}], tmp_path, same_as_input=False,
                 rtol=1e-3, atol=1e-3)
    heads = [n for n in both.graph.node if n.op_type == "MatMulNBits"]
    assert len(heads) == 1 and helper.get_attribute_value(next(a for a in heads[0].attribute if a.name == "bits")) == 8


@needs_olive
def test_tie_word_embeddings_quantized(tmp_path):
    # GatherBlockQuantized and MatMulNBits (8 bits) holding the same bytes under other names.
    m = olive_apply(embed_model(rand([V, H], 7)), [{"surgeon": "QuantizeEmbeddingInt8"}])
    t = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    qn = next(k for k in t if k.endswith("_Q8"))
    sn, zn = qn[:-3] + "_scales", qn[:-3] + "_zp"
    relu = next(n for n in m.graph.node if n.op_type == "Relu")
    head = helper.make_node("MatMulNBits", [relu.output[0], "lm_head.q", "lm_head.s", "lm_head.z"], ["logits"],
                            name="/lm_head/MatMulNBits", domain=MS, K=H, N=V, bits=8, block_size=32)
    nodes = [n for n in m.graph.node if n.op_type != "MatMul"] + [head]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    keep = [i for i in m.graph.initializer if i.name != "lm_head.weight"]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep + [init("lm_head.q", t[qn].reshape(V, H // 32, 32)),
                                       init("lm_head.s", t[sn].ravel()), init("lm_head.z", t[zn].ravel())])
    out = check(m, [{"surgeon": "TieWordEmbeddings"}], tmp_path)
    assert not {"lm_head.q", "lm_head.s", "lm_head.z"} & set(init_table(out.graph))


# ---- elementwise ----

@needs_olive
def test_replace_erf_with_tanh(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Erf", ["x"], ["e1"], name="erf1"),
             helper.make_node("Erf", ["r"], ["e2"], name="erf2"),
             helper.make_node("Add", ["e1", "e2"], ["y"], name="add")]
    m = make_model(nodes, [vi("x", F, [2, 8])], [vi("y", F, [2, 8])], value_info=[vi("r", F, [2, 8])])
    out = check(m, [{"surgeon": "ReplaceErfWithTanh"}], tmp_path, same_as_input=False)
    assert "Erf" not in {n.op_type for n in out.graph.node}
    # tanh(1.2028 x) stands for erf(x) within 0.02
    assert_runs_alike(out, m, feeds_for(m), rtol=0, atol=0.05)


def test_replace_erf_with_tanh_unknown_type(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Erf", ["r"], ["y"], name="erf")]
    m = make_model(nodes, [vi("x", F, [2])], [vi("y", F, [2])])
    ours_fails(m, [{"surgeon": "ReplaceErfWithTanh"}], tmp_path, "ReplaceErfWithTanh", "'r'", "InferShapes")


@needs_olive
def test_decompose_quick_gelu(tmp_path):
    nodes = [helper.make_node("QuickGelu", ["x"], ["q"], name="qg", domain=MS, alpha=1.702),
             helper.make_node("Relu", ["q"], ["y"], name="relu")]
    m = ms_model(nodes, [vi("x", F, [3, 4])], [vi("y", F, [3, 4])])
    out = check(m, [{"surgeon": "DecomposeQuickGelu"}], tmp_path, exact=False)
    assert sorted(n.op_type for n in out.graph.node) == ["Constant", "Mul", "Mul", "Relu", "Sigmoid"]


@needs_olive
def test_reciprocal_mul_to_div(tmp_path):
    nodes = [helper.make_node("Sqrt", ["x"], ["s"], name="sqrt"),
             helper.make_node("Reciprocal", ["s"], ["r"], name="recip"),
             helper.make_node("Mul", ["x", "r"], ["m1"], name="/norm/Mul"),
             helper.make_node("Mul", ["r", "w"], ["m2"], name="mul2"),
             helper.make_node("Add", ["m1", "m2"], ["y"], name="add")]
    m = make_model(nodes, [vi("x", F, [2, 4]), vi("w", F, [2, 4])], [vi("y", F, [2, 4])])
    out = check(m, [{"surgeon": "ReciprocalMulToDiv"}], tmp_path)
    assert "Reciprocal" not in {n.op_type for n in out.graph.node}
    feeds = {"x": np.abs(rand([2, 4], 1)) + 0.5, "w": rand([2, 4], 2)}
    assert_runs_alike(out, m, feeds)


# ---- quantization nodes ----

def qdq_model():
    """x -> Q -> DQ -> Relu -> (Q -> DQ) x 2 -> MatMul with a constant DQ weight, and a Q -> DQ pair
    writing a graph output."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "s1", "z1"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s1", "z1"], ["xd"], name="dq_in"),
             helper.make_node("Relu", ["xd"], ["r"], name="relu"),
             helper.make_node("QuantizeLinear", ["r", "s2", "z2"], ["rq"], name="q_a"),
             helper.make_node("DequantizeLinear", ["rq", "s2", "z2"], ["rd"], name="dq_a"),
             helper.make_node("QuantizeLinear", ["rd", "s2", "z2"], ["rq2"], name="q_b"),
             helper.make_node("DequantizeLinear", ["rq2", "s2", "z2"], ["rd2"], name="dq_b"),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], name="dq_w"),
             helper.make_node("MatMul", ["rd2", "w"], ["mm"], name="mm"),
             helper.make_node("Sigmoid", ["xd"], ["sg"], name="sig"),
             helper.make_node("QuantizeLinear", ["sg", "s2", "z2"], ["sq"], name="q_o"),
             helper.make_node("DequantizeLinear", ["sq", "s2", "z2"], ["y"], name="dq_o")]
    inits = [init("s1", np.array(0.02, np.float32)), init("z1", np.array(128, np.uint8)),
             init("s2", np.array(0.01, np.float32)), init("z2", np.array(0, np.uint8)),
             init("wq", np.random.default_rng(2).integers(0, 255, [4, 3]).astype(np.uint8)),
             init("ws", np.array(0.03, np.float32)), init("wz", np.array(100, np.uint8))]
    return make_model(nodes, [vi("x", F, [2, 4])], [vi("y", F, [2, 4]), vi("mm", F, [2, 3])], inits)


def test_remove_qdq_chain_to_output(tmp_path):
    # Two pairs in a row end at a graph output: the value before them takes the output's name.
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("QuantizeLinear", ["r", "s", "z"], ["q1"], name="q1"),
             helper.make_node("DequantizeLinear", ["q1", "s", "z"], ["d1"], name="d1"),
             helper.make_node("QuantizeLinear", ["d1", "s", "z"], ["q2"], name="q2"),
             helper.make_node("DequantizeLinear", ["q2", "s", "z"], ["y"], name="d2")]
    m = make_model(nodes, [vi("x", F, [3])], [vi("y", F, [3])],
                   [init("s", np.array(0.1, np.float32)), init("z", np.array(0, np.uint8))])
    out = ours_apply(m, [{"surgeon": "RemoveQDQ"}], tmp_path)
    assert [(n.op_type, list(n.output)) for n in out.graph.node] == [("Relu", ["y"])]


@needs_olive
@pytest.mark.parametrize("keep", [False, True])
def test_remove_qdq(tmp_path, keep):
    s = {"surgeon": "RemoveQDQ"}
    if keep:
        s["keep_clip_after_inputs"] = True
    out = check(qdq_model(), [s], tmp_path, same_as_input=False)
    ops = [n.op_type for n in out.graph.node]
    assert "QuantizeLinear" not in ops and ops.count("Clip") == int(keep)


@needs_olive
def test_qdq_to_clip(tmp_path):
    out = check(qdq_model(), [{"surgeon": "QDQToClip"}], tmp_path, same_as_input=False)
    assert [n.op_type for n in out.graph.node].count("Clip") == 4


@needs_olive
def test_remove_deqlin(tmp_path):
    out = check(qdq_model(), [{"surgeon": "RemoveDeqLin"}], tmp_path)
    assert [n.op_type for n in out.graph.node].count("DequantizeLinear") == 4


@needs_olive
def test_remove_gidx(tmp_path):
    rng = np.random.default_rng(3)
    k, n, bs = 32, 8, 16
    def mnb(name, gidx):
        return helper.make_node("MatMulNBits", ["x", f"{name}.qweight", f"{name}.scales", "", gidx], [f"{name}.out"],
                                name=name, domain=MS, K=k, N=n, bits=4, block_size=bs)
    nodes = [mnb("sorted", "a.g_idx"), mnb("shuffled", "b.g_idx"), helper.make_node("Add", ["sorted.out", "shuffled.out"], ["y"], name="add")]
    inits = []
    for name in ("sorted", "shuffled"):
        inits += [init(f"{name}.qweight", rng.integers(0, 255, [n, k // bs, bs // 2]).astype(np.uint8)),
                  init(f"{name}.scales", (rng.random(n * k // bs) * 0.1).astype(np.float32))]
    inits += [init("a.g_idx", (np.arange(k) // bs).astype(np.int32)),
              init("b.g_idx", rng.permutation(np.arange(k) // bs).astype(np.int32))]
    m = ms_model(nodes, [vi("x", F, [2, k])], [vi("y", F, [2, n])], inits)
    out = ours_apply(m, [{"surgeon": "RemoveGidxFromMatMulNBits"}], tmp_path)
    assert_same_graph(out, olive_apply(m, [{"surgeon": "RemoveGidxFromMatMulNBits"}]))
    assert "a.g_idx" not in init_table(out.graph) and "b.g_idx" in init_table(out.graph)
    feeds = {"x": rand([2, k], 4)}
    assert_runs_alike(out, m, feeds)


# ---- clean-ups ----

@needs_olive
def test_deduplicate_nodes(tmp_path):
    # Two Casts writing the same value (what float16 conversion leaves): the later one goes.
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Cast", ["r"], ["c"], name="cast_a", to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["r"], ["c"], name="cast_b", to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["c"], ["y"], name="back", to=F)]
    g = helper.make_graph(nodes, "g", [vi("x", F, [3])], [vi("y", F, [3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    out = check(m, [{"surgeon": "DeduplicateNodes"}], tmp_path, same_as_input=False)
    assert [n.name for n in out.graph.node] == ["relu", "cast_a", "back"]


@needs_olive
def test_deduplicate_subgraph_initializers(tmp_path):
    def branch(name, value):
        body = helper.make_graph([helper.make_node("Add", ["x", "k"], [f"{name}_out"], name=f"{name}_add")], name, [],
                                 [vi(f"{name}_out", F, [3])], [init("k", np.full(3, value, np.float32)),
                                                               init("k", np.full(3, value + 1, np.float32))])
        return body
    nodes = [helper.make_node("If", ["c"], ["y"], name="if", then_branch=branch("then", 1.0),
                              else_branch=branch("else", 5.0))]
    g = helper.make_graph(nodes, "g", [vi("c", TensorProto.BOOL, []), vi("x", F, [3])], [vi("y", F, [3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    out = ours_apply(m, [{"surgeon": "DeduplicateSubgraphInitializers"}], tmp_path)
    theirs = olive_apply(m, [{"surgeon": "DeduplicateSubgraphInitializers"}])
    for a in ("then_branch", "else_branch"):
        ours_b = helper.get_attribute_value(next(x for x in out.graph.node[0].attribute if x.name == a))
        theirs_b = helper.get_attribute_value(next(x for x in theirs.graph.node[0].attribute if x.name == a))
        assert init_table(ours_b) == init_table(theirs_b) and len(ours_b.initializer) == 1
    for c in (True, False):
        feeds = {"c": np.array(c), "x": rand([3], 1)}
        np.testing.assert_array_equal(run_ort(out, feeds)["y"], run_ort(theirs, feeds)["y"])


@needs_olive
def test_remove_memcpy(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("MemcpyToHost", ["r"], ["r_cpu"], name="copy1"),
             helper.make_node("Shape", ["r_cpu"], ["s"], name="shape"),
             helper.make_node("MemcpyFromHost", ["s"], ["s_dev"], name="copy2"),
             helper.make_node("Reshape", ["x", "s_dev"], ["y"], name="reshape"),
             helper.make_node("Sigmoid", ["r"], ["z0"], name="sig"),
             helper.make_node("MemcpyToHost", ["z0"], ["z"], name="copy3")]
    g = helper.make_graph(nodes, "g", [vi("x", F, [2, 3])], [vi("y", F, [2, 3]), vi("z", F, [2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    out = check(m, [{"surgeon": "RemoveMemcpy"}], tmp_path, same_as_input=False)
    assert not [n for n in out.graph.node if n.op_type.startswith("Memcpy")]


@needs_olive
def test_remove_shapes(tmp_path):
    m = two_input_model()
    out = check(m, [{"surgeon": "RemoveAllTensorValueShapes"}], tmp_path)
    assert len(out.graph.value_info) == 2 and not any(v.type.tensor_type.HasField("shape") for v in out.graph.value_info)
    out = check(m, [{"surgeon": "RemoveShapes"}], tmp_path)
    assert not out.graph.value_info


def shapes_model():
    """Symbolic and fixed dimensions through broadcasting, MatMul, Transpose, Gather, (Un)squeeze,
    Shape, Cast, Constant, Where and comparisons, and a contrib op onnx has no schema for."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "bias"], ["xwb"], name="add"),
        helper.make_node("Mul", ["xwb", "y"], ["m1"], name="mul"),          # [b, s, 16] * [1, s2, 1]
        helper.make_node("Sub", ["m1", "z"], ["m2"], name="sub"),           # z: [b, 1, 16]
        helper.make_node("Transpose", ["m2"], ["t"], name="tr", perm=[0, 2, 1]),
        helper.make_node("Transpose", ["m2"], ["t2"], name="tr2"),
        helper.make_node("Softmax", ["t"], ["sm"], name="sm", axis=-1),
        helper.make_node("Gather", ["emb", "ids"], ["g"], name="ga"),
        helper.make_node("Gather", ["t", "idx"], ["g1"], name="ga1", axis=1),
        helper.make_node("Unsqueeze", ["g", "ax"], ["u"], name="un"),
        helper.make_node("Squeeze", ["u", "ax"], ["sq"], name="sq"),
        helper.make_node("Shape", ["sq"], ["sh"], name="shape"),
        helper.make_node("Cast", ["sh"], ["shf"], name="cast", to=f),
        helper.make_node("Constant", [], ["c"], name="const",
                         value=helper.make_tensor("cv", f, [2, 16], np.ones(32, np.float32))),
        helper.make_node("Equal", ["sm", "sm"], ["eq"], name="eq"),
        helper.make_node("Where", ["eq", "sm", "zero"], ["wh"], name="where"),
        helper.make_node("MatMul", ["c", "vec"], ["mv"], name="mv"),
        helper.make_node("FastGelu", ["xw"], ["fg"], name="fg", domain=MS),
        helper.make_node("Relu", ["fg"], ["r"], name="relu"),
        helper.make_node("Concat", ["wh", "wh"], ["cat"], name="cat", axis=0),
        helper.make_node("Concat", ["m2", "xw"], ["cat1"], name="cat1", axis=-1),
        helper.make_node("Slice", ["cat1", "st", "en", "sax", "sst"], ["sl"], name="slice"),
        helper.make_node("ReduceSum", ["sl", "ax"], ["rs"], name="rsum", keepdims=0),
        helper.make_node("ReduceMean", ["sl"], ["rm"], name="rmean", axes=[-1]),
        helper.make_node("Gemm", ["c", "w"], ["gm"], name="gemm", transB=1),
        helper.make_node("Shape", ["sl"], ["sh2"], name="shape2", start=-2),
        helper.make_node("Relu", ["rs"], ["rs_out"], name="relu2"),
    ]
    g = helper.make_graph(
        nodes, "g",
        [vi("x", f, ["batch", "seq", 8]), vi("y", f, [1, "seq2", 1]), vi("z", f, ["batch", 1, 16]),
         vi("ids", i64, ["batch", 3]), vi("vec", f, [16])],
        [vi("cat", f, None), vi("shf", f, None), vi("mv", f, None), vi("r", f, None), vi("g1", f, None),
         vi("rs_out", f, None), vi("rm", f, None), vi("gm", f, None), vi("sh2", TensorProto.INT64, None)],
        [numpy_helper.from_array(np.ones((8, 16), np.float32), "w"),
         numpy_helper.from_array(np.ones(16, np.float32), "bias"),
         numpy_helper.from_array(np.ones((10, 4), np.float32), "emb"),
         numpy_helper.from_array(np.array([0, 2], np.int64), "idx"),
         numpy_helper.from_array(np.array([1], np.int64), "ax"),
         numpy_helper.from_array(np.float32(0), "zero"),
         numpy_helper.from_array(np.array([1, -30], np.int64), "st"),
         numpy_helper.from_array(np.array([2 ** 62, -2], np.int64), "en"),
         numpy_helper.from_array(np.array([0, 2], np.int64), "sax"),
         numpy_helper.from_array(np.array([1, 3], np.int64), "sst")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])


def inferred_value_infos(m, field="value_info"):
    out = []
    for v in getattr(m.graph, field):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param if d.HasField("dim_param") else "?"
                for d in t.shape.dim] if t.HasField("shape") else None
        out.append((v.name, t.elem_type, dims))
    return out


def test_infer_shapes_like_onnx(tmp_path):
    """Olive's InferShapes is onnx.shape_inference.infer_shapes: the same value_info, in order."""
    m = shapes_model()
    proc, dst = ours_run(m, [{"surgeon": "InferShapes"}], tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    theirs = onnx.shape_inference.infer_shapes(m)
    assert inferred_value_infos(ours) == inferred_value_infos(theirs)
    assert inferred_value_infos(ours, "output") == inferred_value_infos(theirs, "output")
    assert ("sm", TensorProto.FLOAT, ["batch", 16, "unk__0"]) in inferred_value_infos(ours)  # seq against seq2


DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


@pytest.mark.skipif(not os.environ.get("OLIVE_CLI"), reason="OLIVE_CLI is not set (run through meson test)")
@pytest.mark.parametrize("checkpoint,params,then", [("convert/llama", ["precision=fp32"], None),
                                                    ("convert/llama", ["precision=int4"], None),
                                                    ("convert/gemma2", ["precision=fp32"], None),
                                                    ("convert_encoder/bert_seqcls", [], None),
                                                    ("convert_encoder/bert_seqcls", [], "quantize_dynamic"),
                                                    ("convert_encoder/roberta_model", [], "float16")])
def test_infer_shapes_on_converted_models_like_onnx(tmp_path, checkpoint, params, then):
    """The models libolive's converter writes (then quantized or in float16): the same value_info
    and outputs as onnx's shape inference."""
    from olive_testlib import run_convert  # noqa: PLC0415
    run_convert(os.environ["OLIVE_CLI"], os.path.join(DATA, checkpoint), tmp_path / "conv", *params)
    src, dst = tmp_path / "conv" / "model.onnx", tmp_path / "inferred.onnx"
    if then:
        proc = subprocess.run([os.environ["OLIVE_CLI"], "run-pass", "--pass", then, "-m", str(src), "-o",
                               str(tmp_path / then)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        src = tmp_path / then / "model.onnx"
    proc = subprocess.run([TOOL, "GraphSurgeries", str(src), str(dst), surgeries_arg([{"surgeon": "InferShapes"}])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ours = inferred_value_infos(onnx.load(str(dst), load_external_data=False))
    theirs = inferred_value_infos(onnx.shape_inference.infer_shapes(onnx.load(str(src))))
    assert ours and ours == theirs
    assert inferred_value_infos(onnx.load(str(dst), load_external_data=False), "output") == \
        inferred_value_infos(onnx.shape_inference.infer_shapes(onnx.load(str(src))), "output")


# ---- normalizations ----

N = 8


def rmsnorm_model():
    """Two decomposed RMSNorms: x / sqrt(mean(x^2) + eps) * w, and x * (1 / sqrt(...)) * ones."""
    def chain(p, x, w, recip):
        nodes = [helper.make_node("Pow", [x, "two"], [f"{p}_sq"], name=f"/{p}/Pow"),
                 helper.make_node("ReduceMean", [f"{p}_sq"], [f"{p}_mean"], name=f"/{p}/ReduceMean", axes=[-1]),
                 helper.make_node("Add", [f"{p}_mean", "eps"], [f"{p}_var"], name=f"/{p}/Add"),
                 helper.make_node("Sqrt", [f"{p}_var"], [f"{p}_std"], name=f"/{p}/Sqrt")]
        if recip:
            nodes += [helper.make_node("Div", ["one", f"{p}_std"], [f"{p}_inv"], name=f"/{p}/Div"),
                      helper.make_node("Mul", [x, f"{p}_inv"], [f"{p}_n"], name=f"/{p}/Mul")]
        else:
            nodes += [helper.make_node("Div", [x, f"{p}_std"], [f"{p}_n"], name=f"/{p}/Div")]
        nodes += [helper.make_node("Mul", [f"{p}_n", w], [f"{p}_y"], name=f"/{p}/Mul_1")]
        return nodes
    nodes = chain("a", "x", "wa", False) + chain("b", "a_y", "wb", True) + [
        helper.make_node("Relu", ["b_y"], ["y"], name="relu")]
    inits = [init("two", np.array(2.0, np.float32)), init("eps", np.array(1e-6, np.float32)),
             init("one", np.array(1.0, np.float32)), init("wa", rand([N], 9)), init("wb", np.ones(N, np.float32))]
    return make_model(nodes, [vi("x", F, [2, 3, N])], [vi("y", F, [2, 3, N])], inits)


@needs_olive
def test_rmsnorm_to_l2norm(tmp_path):
    out = check(rmsnorm_model(), [{"surgeon": "RMSNormToL2Norm"}], tmp_path, rtol=1e-4, atol=1e-5)
    assert [n.op_type for n in out.graph.node].count("LpNormalization") == 2
    assert tuple(init_table(out.graph)["wb"][1]) == (1,)


def sln_model(opset=17):
    nodes = [helper.make_node("SimplifiedLayerNormalization", ["x", "g1"], ["h"], name="/ln1/SimplifiedLayerNormalization",
                              axis=-1, epsilon=1e-6),
             helper.make_node("SkipSimplifiedLayerNormalization", ["h", "x", "g2"], ["h2", "", "", "s"],
                              name="/ln2/SkipSimplifiedLayerNormalization", domain=MS, epsilon=1e-6),
             helper.make_node("Relu", ["s"], ["z"], name="relu"),
             helper.make_node("Sigmoid", ["h2"], ["y"], name="sig")]
    return ms_model(nodes, [vi("x", F, [2, 3, N])], [vi("y", F, [2, 3, N]), vi("z", F, [2, 3, N])],
                    [init("g1", rand([N], 10)), init("g2", np.ones(N, np.float32))], opset)


@needs_olive
@pytest.mark.parametrize("opset", [17, 18])
def test_simplified_layernorm_to_rmsnorm(tmp_path, opset):
    out = check(sln_model(opset), [{"surgeon": "SimplifiedLayerNormToRMSNorm"}], tmp_path, rtol=1e-4, atol=1e-5)
    assert not [n for n in out.graph.node if "LayerNormalization" in n.op_type]


@needs_olive
def test_simplified_layernorm_to_l2norm(tmp_path):
    out = check(sln_model(), [{"surgeon": "SimplifiedLayerNormToL2Norm"}], tmp_path, rtol=1e-4, atol=1e-4)
    assert [n.op_type for n in out.graph.node].count("LpNormalization") == 2


def test_simplified_layernorm_to_l2norm_op_types(tmp_path):
    # Only the plain one converts; its weight is not shared, so it is scaled in place.
    m = sln_model()
    out = ours_apply(m, [{"surgeon": "SimplifiedLayerNormToL2Norm", "op_types": ["SimplifiedLayerNormalization"]}],
                     tmp_path)
    assert sorted(n.op_type for n in out.graph.node) == ["LpNormalization", "Mul", "Relu", "Sigmoid",
                                                          "SkipSimplifiedLayerNormalization"]
    g1 = numpy_helper.to_array(next(i for i in out.graph.initializer if i.name == "g1"))
    np.testing.assert_array_equal(g1, rand([N], 10) * np.float32(np.sqrt(N)))
    assert_runs_alike(out, m, feeds_for(m), rtol=1e-4, atol=1e-4)
    ours_fails(m, [{"surgeon": "SimplifiedLayerNormToL2Norm", "op_types": ["LayerNormalization"]}], tmp_path,
               "op_types", "LayerNormalization")


@needs_olive
def test_pow_reduce_sum_pow_div_to_lpnorm(tmp_path):
    nodes = [helper.make_node("Pow", ["x", "two"], ["sq"], name="pow2"),
             helper.make_node("ReduceSum", ["sq", "axes"], ["ss"], name="sum", keepdims=1),
             helper.make_node("Pow", ["ss", "half"], ["norm"], name="pow_half"),
             helper.make_node("Div", ["x", "norm"], ["y"], name="div")]
    m = make_model(nodes, [vi("x", F, [2, N])], [vi("y", F, [2, N])],
                   [init("two", np.array(2.0, np.float32)), init("half", np.array(0.5, np.float32)),
                    init("axes", np.array([-1], np.int64))])
    out = check(m, [{"surgeon": "PowReduceSumPowDiv2LpNorm"}], tmp_path, rtol=1e-5, atol=1e-6)
    assert [n.op_type for n in out.graph.node] == ["LpNormalization"]


# ---- Gemm ----

@needs_olive
@pytest.mark.parametrize("rank3,relu", [(False, False), (True, False), (True, True)])
def test_matmul_add_to_gemm(tmp_path, rank3, relu):
    a_shape = [2, 3, 4] if rank3 else [6, 4]
    o_shape = a_shape[:-1] + [5]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="/fc/MatMul"),
             helper.make_node("Add", ["mm", "b"], ["h"], name="/fc/Add")]
    tail = [helper.make_node("Relu", ["h"], ["r"], name="relu"), helper.make_node("Sigmoid", ["r"], ["y"], name="sig")] \
        if relu else [helper.make_node("Sigmoid", ["h"], ["y"], name="sig")]
    m = make_model(nodes + tail, [vi("x", F, a_shape)], [vi("y", F, o_shape)], [init("w", rand([4, 5], 1)), init("b", rand([5], 2))],
                   value_info=[vi("mm", F, o_shape)])
    out = check(m, [{"surgeon": "MatMulAddToGemm"}], tmp_path)
    assert "Gemm" in {n.op_type for n in out.graph.node} and "MatMul" not in {n.op_type for n in out.graph.node}


@needs_olive
def test_gemm_to_matmul_add(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], name="g1", transB=1),
             helper.make_node("Gemm", ["h", "w2", "b"], ["h2"], name="g2"),
             helper.make_node("Gemm", ["h2", "x2"], ["y"], name="g3", transB=1),
             helper.make_node("Gemm", ["h2", "w2"], ["z"], name="g4", alpha=2.0)]
    m = make_model(nodes, [vi("x", F, [3, 4]), vi("x2", F, [3, 5])], [vi("y", F, [3, 3]), vi("z", F, [3, 5])],
                   [init("w", rand([5, 4], 1)), init("w2", rand([5, 5], 2)), init("b", rand([5], 3))])
    out = check(m, [{"surgeon": "GemmToMatMulAdd"}], tmp_path)
    ops = sorted(n.op_type for n in out.graph.node)
    assert ops == ["Add", "Gemm", "MatMul", "MatMul", "MatMul", "Transpose"]


# ---- attention ----

def ms_model(nodes, inputs, outputs, inits=(), opset=17):
    """A model of opset `opset` that may use com.microsoft ops."""
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


@needs_olive
@pytest.mark.parametrize("interleaved", [0, 1])
def test_decompose_rotary_embedding(tmp_path, interleaved):
    pos = np.arange(16, dtype=np.float32)[:, None] / (10000 ** (np.arange(4, dtype=np.float32) / 4))
    nodes = [helper.make_node("RotaryEmbedding", ["x", "position_ids", "cos", "sin"], ["r"], name="/attn/rotary",
                              domain=MS, interleaved=interleaved),
             helper.make_node("Relu", ["r"], ["y"], name="relu")]
    m = ms_model(nodes, [vi("x", F, [1, 5, 8]), vi("position_ids", I64, [1, 5])], [vi("y", F, [1, 5, 8])],
                 [init("cos", np.cos(pos)), init("sin", np.sin(pos))])
    out = ours_apply(m, [{"surgeon": "DecomposeRotaryEmbedding"}], tmp_path)
    assert_same_structure(out, olive_apply(m, [{"surgeon": "DecomposeRotaryEmbedding"}]))
    assert "RotaryEmbedding" not in {n.op_type for n in out.graph.node}
    feeds = {"x": rand([1, 5, 8], 1), "position_ids": np.array([[3, 4, 5, 6, 7]], np.int64)}
    assert_runs_alike(out, m, feeds, rtol=1e-5, atol=1e-5)


def gqa(inputs, name="/attn/GroupQueryAttention"):
    return helper.make_node("GroupQueryAttention", inputs, ["attn"], name=name, domain=MS, num_heads=1, kv_num_heads=1)


@needs_olive
@pytest.mark.parametrize("large", [False, True])
def test_remove_rope_multi_cache(tmp_path, large):
    def branch(size):
        return helper.make_graph(
            [helper.make_node("Constant", [], [f"{k}_{size}"], name=f"{k}_{size}_const",
                              value=numpy_helper.from_array(rand([8, 2], i + (size == "large") * 2), f"{k}_{size}"))
             for i, k in enumerate(("cos_cache", "sin_cache"))],
            size, [], [vi("cos_cache_" + size, F, [8, 2]), vi("sin_cache_" + size, F, [8, 2])])
    nodes = [helper.make_node("Greater", ["total", "limit"], ["cond"], name="/rope/Greater"),
             helper.make_node("If", ["cond"], ["cos_cache", "sin_cache"], name="/rope/If",
                              then_branch=branch("large"), else_branch=branch("small")),
             gqa(["q", "k", "v", "pk", "pv", "seqlens_k", "total32", "cos_cache", "sin_cache"])]
    ins = [vi("total", I64, []), vi("q", F, [1, 1, 4]), vi("k", F, [1, 1, 4]), vi("v", F, [1, 1, 4]),
           vi("pk", F, [1, 1, 1, 4]), vi("pv", F, [1, 1, 1, 4]), vi("seqlens_k", I32, [1]), vi("total32", I32, [])]
    m = ms_model(nodes, ins, [vi("attn", F, [1, 1, 4])], [init("limit", np.array(4, np.int64))])
    s = [{"surgeon": "RemoveRopeMultiCache", "use_large_cache": large}]
    out = ours_apply(m, s, tmp_path)
    assert_same_graph(out, olive_apply(m, s))
    assert {n.op_type for n in out.graph.node} == {"GroupQueryAttention"}


@needs_olive
def test_attention_mask_to_sequence_lengths(tmp_path):
    nodes = [helper.make_node("ReduceSum", ["attention_mask", "one"], ["msum"], name="/mask/ReduceSum"),
             helper.make_node("Sub", ["msum", "one"], ["mlen"], name="/mask/Sub"),
             helper.make_node("Cast", ["mlen"], ["seqlens_k"], name="/mask/Cast", to=I32),
             helper.make_node("Shape", ["attention_mask"], ["mshape"], name="/mask/Shape"),
             helper.make_node("Gather", ["mshape", "one"], ["mtot"], name="/mask/Gather", axis=0),
             helper.make_node("Cast", ["mtot"], ["total"], name="/mask/Cast_1", to=I32),
             helper.make_node("Gather", ["emb", "input_ids"], ["q"], name="/embed/Gather"),
             gqa(["q", "q", "q", "pk", "pv", "seqlens_k", "total"])]
    ins = [vi("input_ids", I64, ["batch", "seq"]), vi("attention_mask", I64, ["batch", "total_len"]),
           vi("pk", F, ["batch", 1, "past", 4]), vi("pv", F, ["batch", 1, "past", 4])]
    m = ms_model(nodes, ins, [vi("attn", F, ["batch", "seq", 4])],
                 [init("one", np.array([1], np.int64)), init("emb", rand([10, 4], 1))])
    s = [{"surgeon": "AttentionMaskToSequenceLengths"}]
    out = ours_apply(m, s, tmp_path)
    theirs = olive_apply(m, s)
    assert_same_graph(out, theirs)
    assert [i.name for i in out.graph.input] == ["input_ids", "pk", "pv", "past_seq_len", "total_seq_len"]
    assert out.graph.input[3].type.tensor_type.shape.dim[0].dim_param == "batch"


@needs_olive
def test_replace_attention_mask_value(tmp_path):
    lowest = np.finfo(np.float32).min
    nodes = [helper.make_node("Constant", [], ["c"], name="const", value=numpy_helper.from_array(np.array([lowest, 0.0], np.float32))),
             helper.make_node("Where", ["cond", "c0", "c"], ["w"], name="where"),
             helper.make_node("Add", ["w", "bias"], ["a"], name="add"),
             helper.make_node("MatMul", ["a", "other"], ["y"], name="mm")]
    m = make_model(nodes, [vi("cond", TensorProto.BOOL, [2]), vi("c0", F, [2])], [vi("y", F, [2])],
                   [init("bias", np.array([lowest, 1.0], np.float32)), init("other", np.full([2, 2], lowest / 2, np.float32))])
    s = [{"surgeon": "ReplaceAttentionMaskValue", "replacement": -5000.0}]
    out = ours_apply(m, s, tmp_path)
    assert_same_graph(out, olive_apply(m, s))
    t = init_table(out.graph)
    assert np.frombuffer(t["bias"][2], np.float32)[0] == -5000 and np.frombuffer(t["other"][2], np.float32)[0] == lowest / 2


# ---- Olive's surgeons for a DLA compiler (4-D shapes) ----

def dla_model():
    nodes = [helper.make_node("Reshape", ["x", "shape3"], ["r"], name="reshape"),
             helper.make_node("Expand", ["r", "eshape"], ["e"], name="expand"),
             helper.make_node("Transpose", ["e"], ["t"], name="transpose", perm=[0, 2, 1]),
             helper.make_node("Slice", ["t", "st", "en", "ax1"], ["s"], name="slice"),
             helper.make_node("ReduceSum", ["s", "rax"], ["rs"], name="rsum", keepdims=0),
             helper.make_node("Unsqueeze", ["rs", "uax"], ["u"], name="unsq"),
             helper.make_node("Flatten", ["u"], ["f"], name="flat", axis=1),
             helper.make_node("Gather", ["f", "gi"], ["gth"], name="gather", axis=1),
             helper.make_node("LpNormalization", ["t"], ["lp"], name="lp", axis=1, p=2),
             helper.make_node("GatherElements", ["lp", "gei"], ["ge"], name="gel", axis=0)]
    inits = [init("shape3", np.array([0, 4, 3], np.int64)), init("eshape", np.array([1, 4, 3], np.int64)),
             init("st", np.array([0], np.int64)), init("en", np.array([2], np.int64)), init("ax1", np.array([2], np.int64)),
             init("rax", np.array([1], np.int64)), init("uax", np.array([0], np.int64)), init("gi", np.array(0, np.int64)),
             init("gei", np.zeros([1, 3, 4], np.int64))]
    g = helper.make_graph(nodes, "g", [vi("x", F, [1, 12])], [vi("gth", F, [1]), vi("ge", F, [1, 3, 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


DLA = ["Non4DReshape", "Non4DExpand", "Non4DTranspose", "Non4DSlice", "Non4DLpNorm", "StandaloneReduceSum", "Gather",
       "GatherElements", "Flatten", "RemoveIntermediarySqueezeAndUnsqueeze"]


@needs_olive
@pytest.mark.parametrize("surgeon", DLA)
def test_dla_surgeons(tmp_path, surgeon):
    m = dla_model()
    proc, dst = ours_run(m, [{"surgeon": surgeon}], tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    theirs = olive_apply(m, [{"surgeon": surgeon}])
    assert_same_graph(ours, theirs)
    assert node_keys(ours.graph) != node_keys(m.graph) or init_table(ours.graph) != init_table(m.graph)


@needs_olive
def test_add_intermediate_tensors_to_outputs(tmp_path):
    s = [{"surgeon": "AddIntermediateTensorsToOutputs", "intermediate_tensor_to_add": ["s", "m"]}]
    proc, dst = ours_run(two_input_model(), s, tmp_path)  # (outputs without shapes: as Olive writes them)
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))
    assert_same_graph(out, olive_apply(two_input_model(), s))
    assert [o.name for o in out.graph.output] == ["y", "s", "m"]
    ours_fails(two_input_model(), [{"surgeon": "AddIntermediateTensorsToOutputs", "intermediate_tensor_to_add": ["q"]}],
               tmp_path, "intermediate_tensor_to_add", "'q'")


@needs_olive
@pytest.mark.parametrize("surgeon", ["ReshapeReduceSum", "ReshapeClipReduceSum", "ReduceMax"])
def test_olive_noop_surgeons(tmp_path, surgeon):
    # Olive 0.13's versions leave the model unchanged (see dla.c): so do ours.
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
             helper.make_node("Clip", ["r", "lo", "hi"], ["c"], name="clip"),
             helper.make_node("ReduceSum", ["c", "axes"], ["s"], name="rsum"),
             helper.make_node("ReduceMax", ["s"], ["y"], name="rmax", axes=[3], keepdims=1)]
    m = make_model(nodes, [vi("x", F, [1, 1, 8, 8])], [vi("y", F, [1, 1, 8, 1])],
                   [init("shape", np.array([1, 1, 8, 8], np.int64)), init("lo", np.array(0.0, np.float32)),
                    init("hi", np.array(6.0, np.float32)), init("axes", np.array([3], np.int64))])
    out = check(m, [{"surgeon": surgeon}], tmp_path)
    assert node_keys(out.graph) == node_keys(m.graph)


@needs_olive
def test_non4d_model_inputs_and_outputs(tmp_path):
    nodes = [helper.make_node("Relu", ["a"], ["ra"], name="relu_a"),
             helper.make_node("Unsqueeze", ["b", "uax"], ["ub"], name="unsq_b"),
             helper.make_node("Relu", ["ub"], ["y3"], name="relu_b"),
             helper.make_node("Relu", ["ra"], ["y2"], name="relu_c")]
    m = make_model(nodes, [vi("a", F, [2, 3]), vi("b", F, [2, 3, 4])], [vi("y2", F, [2, 3]), vi("y3", F, [1, 2, 3, 4])],
                   [init("uax", np.array([0], np.int64))])
    for s in ("Non4DModelInputs", "Non4DModelOutputs"):
        proc, dst = ours_run(m, [{"surgeon": s}], tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert_same_graph(onnx.load(str(dst)), olive_apply(m, [{"surgeon": s}]))


@needs_olive
def test_non4d_initializers(tmp_path):
    nodes = [helper.make_node("Mul", ["x", "k1"], ["a"], name="mul"),
             helper.make_node("MatMul", ["a", "w_mm"], ["b"], name="mm"),
             helper.make_node("Gemm", ["b2", "w_gemm"], ["c"], name="gemm"),
             helper.make_node("Add", ["a", "w_conv"], ["d"], name="add"),
             helper.make_node("Add", ["a", "t3"], ["e"], name="add3")]
    g = helper.make_graph(nodes, "g", [vi("x", F, [3, 4]), vi("b2", F, [3, 4])],
                          [vi("b", F, None), vi("c", F, None), vi("d", F, None), vi("e", F, None)],
                          [init("k1", rand([4], 1)), init("w_mm", rand([4, 5], 2)), init("w_gemm", rand([4, 2], 3)),
                           init("w_conv", rand([3, 4], 4)), init("t3", rand([2, 3, 4], 5))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    proc, dst = ours_run(m, [{"surgeon": "Non4DInitializers"}], tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    assert_same_graph(ours, olive_apply(m, [{"surgeon": "Non4DInitializers"}]))
    assert {k: v[1] for k, v in init_table(ours.graph).items()} == {
        "k1": (1, 1, 1, 4), "w_mm": (4, 5), "w_gemm": (1, 1, 4, 2), "w_conv": (4, 3, 1, 1), "t3": (1, 2, 3, 4)}


@needs_olive
def test_matmul_to_transpose_conv_transpose(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["h"], name="relu"),
             helper.make_node("MatMul", ["h", "w"], ["y"], name="/fc/MatMul"),
             helper.make_node("Relu", ["x2"], ["h2"], name="relu2"),
             helper.make_node("Gemm", ["h2", "wt", "b"], ["z"], name="/fc2/Gemm", transB=1),
             helper.make_node("MatMul", ["x3", "w4"], ["q"], name="/fc3/MatMul")]
    g = helper.make_graph(nodes, "g", [vi("x", F, [1, 1, 4, 8]), vi("x2", F, [3, 8]), vi("x3", F, [1, 2, 3, 4])],
                          [vi("y", F, None), vi("z", F, None), vi("q", F, None)],
                          [init("w", rand([8, 5], 1)), init("wt", rand([5, 8], 2)), init("b", rand([5], 3)),
                           init("w4", rand([1, 1, 4, 2], 4))],
                          value_info=[vi("h", F, [1, 1, 4, 8]), vi("h2", F, [3, 8])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    s = [{"surgeon": "MatMulToTransposeConvTranspose"}]
    proc, dst = ours_run(m, s, tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    assert_same_graph(ours, olive_apply(m, s))
    assert sorted(n.op_type for n in ours.graph.node) == ["Conv", "Conv", "MatMul", "Relu", "Relu", "Transpose",
                                                          "Transpose", "Transpose", "Transpose"]


def packed_attention_model():
    """One custom PackedAttention over q, k, v [1, 2 heads, 6 tokens, 4] and segment offsets cu [3]."""
    nodes = [helper.make_node("PackedAttention", ["q", "k", "v", "cu"], ["o"], name="/vision/attn/PackedAttention",
                              domain="custom", scale=0.125, num_heads=2)]
    qkv = [vi(n, F, [1, 2, 6, 4]) for n in "qkv"]
    g = helper.make_graph(nodes, "g", qkv + [vi("cu", I32, [3])], [vi("o", F, [1, 6, 2, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("custom", 1)])
    m.ir_version = 10
    return m


@needs_olive
def test_packed_attention_to_packed_mha(tmp_path):
    # (PackedMultiHeadAttention runs on CUDA only: the graphs are compared, not run.)
    m = packed_attention_model()
    s = [{"surgeon": "PackedAttentionToPackedMHA"}]
    proc, dst = ours_run(m, s, tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    assert_same_structure(ours, olive_apply(m, s))
    assert [n.op_type for n in ours.graph.node].count("PackedMultiHeadAttention") == 1


@needs_olive
def test_packed_attention_to_loop_mha(tmp_path):
    m = packed_attention_model()
    s = [{"surgeon": "PackedAttentionToLoopMHA"}]
    proc, dst = ours_run(m, s, tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours, theirs = onnx.load(str(dst)), olive_apply(m, s)

    def ops(graph):
        body = next(a.g for n in graph.node for a in n.attribute if a.name == "body")
        return sorted(n.op_type for n in graph.node), sorted(n.op_type for n in body.node)
    assert ops(ours.graph) == ops(theirs.graph)
    feeds = {"q": rand([1, 2, 6, 4], 1), "k": rand([1, 2, 6, 4], 2), "v": rand([1, 2, 6, 4], 3),
             "cu": np.array([0, 2, 6], np.int32)}
    assert_runs_alike(ours, theirs, feeds)


# ---- surgeons of later Olive releases (not in olive-ai 0.13): expectations written by hand ----

def test_cast_outputs(tmp_path):
    m = two_input_model()
    out = ours_apply(m, [{"surgeon": "CastOutputs", "names": ["y"], "to": "float16"}], tmp_path)
    cast = [n for n in out.graph.node if n.op_type == "Cast"]
    assert [(c.name, list(c.input), list(c.output)) for c in cast] == [("Cast_y_float16", ["y_float"], ["y"])]
    assert out.graph.output[0].name == "y" and out.graph.output[0].type.tensor_type.elem_type == F16
    feeds = feeds_for(m)
    np.testing.assert_array_equal(run_ort(out, feeds)["y"], run_ort(m, feeds)["y"].astype(np.float16))
    ours_fails(m, [{"surgeon": "CastOutputs", "names": ["nope"], "to": "float16"}], tmp_path, "names", "'nope'")
    ours_fails(m, [{"surgeon": "CastOutputs", "names": ["y"], "to": "half-ish"}], tmp_path, "to", "'half-ish'")


def test_constant_attributes_to_tensor(tmp_path):
    nodes = [helper.make_node("Constant", [], ["c1"], name="c1", value_ints=[2, 3]),
             helper.make_node("Constant", [], ["c2"], name="c2", value_float=1.5),
             helper.make_node("Reshape", ["x", "c1"], ["r"], name="reshape"),
             helper.make_node("Mul", ["r", "c2"], ["y"], name="mul")]
    m = make_model(nodes, [vi("x", F, [6])], [vi("y", F, [2, 3])])
    out = ours_apply(m, [{"surgeon": "ConstantAttributesToTensor"}], tmp_path)
    consts = {n.output[0]: n.attribute for n in out.graph.node if n.op_type == "Constant"}
    assert [a.name for a in consts["c1"]] == ["value"] and [a.name for a in consts["c2"]] == ["value"]
    np.testing.assert_array_equal(numpy_helper.to_array(consts["c1"][0].t), [2, 3])
    assert numpy_helper.to_array(consts["c2"][0].t).shape == () and numpy_helper.to_array(consts["c2"][0].t) == 1.5
    assert_runs_alike(out, m, feeds_for(m))


def test_remove_initializer_value_info(tmp_path):
    m = two_input_model()
    m.graph.value_info.append(vi("w", F16, [2, 3]))  # contradicts the initializer
    out = ours_apply(m, [{"surgeon": "RemoveInitializerValueInfo"}], tmp_path)
    assert sorted(v.name for v in out.graph.value_info) == ["m", "s"]


@needs_olive
def test_passes_command_lists_every_surgeon_olive_has():
    """`olive passes graph_surgeries` names its surgeons (the JSON description's catalog, and the
    text): every surgeon Olive registers is among them, by Olive's name (case aside)."""
    cli = os.environ["OLIVE_CLI"]
    desc = json.loads(subprocess.run([cli, "passes", "graph_surgeries", "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    assert desc["catalog"]["label"] == "surgeons"
    ours = {n.lower() for n in desc["catalog"]["names"]}
    gs = OLIVE[0]
    olive = set(gs.Surgeon.registry) - {"protosurgeon"}  # the base class of the proto-level surgeons
    assert olive <= ours, sorted(olive - ours)
    text = subprocess.run([cli, "passes", "graph_surgeries"], capture_output=True, text=True, check=True).stdout
    assert f"Surgeons ({len(desc['catalog']['names'])}):" in text
    assert all(n in text for n in desc["catalog"]["names"])
