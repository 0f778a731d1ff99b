"""Olive's OnnxBlockWiseRtnQuantization against Microsoft Olive's own pass (olive-ai 0.13,
imported with torch stubbed by olive_reference).

Olive's pass quantizes MatMul weights into MatMulNBits (through onnxruntime's MLAS kernels)
and Gather tables into GatherBlockQuantized (its own round to nearest), 4 and 8 bits,
symmetric or not. Small models (a Gather on a constant table feeding a MatMul on a constant
weight, a table shared by two Gathers, nodes_to_exclude / nodes_to_include) and a converted
BERT classifier are quantized by Olive's pass code (its _quantize_model on an onnx_ir model,
after the com.microsoft import its _run_for_config sets) and by libolive through
$OLIVE_APPLY_PASS under the Olive type name. Both must have the same nodes (op type, domain,
name, inputs, outputs, attributes), the same initializers (name, type, shape, bytes), graph
outputs, opset imports and IR version, and give identical outputs in onnxruntime."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_reference import import_olive  # noqa: E402
from olive_testlib import apply_pass  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")
DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
TYPE = "OnnxBlockWiseRtnQuantization"


def _import_olive():
    def load():
        import onnx_ir  # noqa: PLC0415
        from olive.passes.onnx import rtn_quantization  # noqa: PLC0415
        return rtn_quantization.OnnxBlockWiseRtnQuantization, onnx_ir
    return import_olive(load)


OLIVE = _import_olive()
needs_olive = pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed (scripts/requirements-olive.txt)")


def olive_quantize(model, bits=4, block_size=128, is_symmetric=True, nodes_to_exclude=None, nodes_to_include=None):
    """What Olive's pass does to `model`: its _run_for_config without the file handling (the
    pass object is made without its config machinery, which _quantize_model does not use)."""
    cls, ir = OLIVE
    m = ir.from_proto(model)
    m.graph.opset_imports["com.microsoft"] = 1
    cls.__new__(cls)._quantize_model(m, nodes_to_exclude, nodes_to_include, bits, block_size, 0, is_symmetric)
    return ir.to_proto(m)


def ours_quantize(model, tmp_path, bits=4, block_size=128, is_symmetric=True, nodes_to_exclude=None,
                  nodes_to_include=None):
    params = [f"bits={bits}", f"block_size={block_size}", f"is_symmetric={'true' if is_symmetric else 'false'}"]
    if nodes_to_exclude:
        params.append("nodes_to_exclude=" + ",".join(nodes_to_exclude))
    if nodes_to_include:
        params.append("nodes_to_include=" + ",".join(nodes_to_include))
    return apply_pass(TYPE, model, tmp_path, *params)


def attrs(node):
    """Subgraphs by name (subgraph_nodes compares them: onnx_ir adds value_info to Olive's)."""
    return [(a.name, a.g.name if a.type == onnx.AttributeProto.GRAPH else helper.get_attribute_value(a))
            for a in node.attribute]


def nodes(model):
    return [(n.op_type, n.domain, n.name, list(n.input), list(n.output), attrs(n)) for n in model.graph.node]


def initializers(model):
    return [(t.name, t.data_type, list(t.dims), numpy_helper.to_array(t).tobytes()) for t in model.graph.initializer]


def assert_same_model(ours, theirs):
    assert nodes(ours) == nodes(theirs)
    got, want = initializers(ours), initializers(theirs)
    assert [i[:3] for i in got] == [i[:3] for i in want]
    for g, w in zip(got, want):
        assert g[3] == w[3], f"initializer {g[0]}: bytes differ"
    assert [o.name for o in ours.graph.output] == [o.name for o in theirs.graph.output]
    assert {o.domain or "": o.version for o in ours.opset_import} == \
           {o.domain or "": o.version for o in theirs.opset_import}
    assert ours.ir_version == theirs.ir_version


def run(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_same_outputs(ours, theirs, feeds):
    for a, b in zip(run(ours, feeds), run(theirs, feeds), strict=True):
        np.testing.assert_array_equal(a, b)


def table(v, d, seed, dtype=np.float32):
    """A random table with outliers and one constant row (a zero-range block)."""
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((v, d)).astype(np.float32)
    t[rng.integers(0, v, 3), rng.integers(0, d, 3)] *= 8.0
    t[1] = 0.0
    t[2] = -0.75
    return t.astype(dtype)


def embed_model(v=12, d=37, n=5, dtype=np.float32, shared=False):
    """ids -> Gather(E) -> MatMul(W) -> y (and a second Gather on E -> y2 when shared)."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    ns = [helper.make_node("Gather", ["E", "ids"], ["h"], name="embed"),
          helper.make_node("MatMul", ["h", "W"], ["y"], name="proj")]
    outs = [helper.make_tensor_value_info("y", elem, [3, n])]
    if shared:
        ns.append(helper.make_node("Gather", ["E", "ids2"], ["y2"], name="embed2"))
        outs.append(helper.make_tensor_value_info("y2", elem, [2, d]))
    ins = [helper.make_tensor_value_info("ids", TensorProto.INT64, [3])]
    if shared:
        ins.append(helper.make_tensor_value_info("ids2", TensorProto.INT64, [2]))
    graph = helper.make_graph(ns, "g", ins, outs, initializer=[numpy_helper.from_array(table(v, d, 1, dtype), "E"),
                                                               numpy_helper.from_array(table(d, n, 2, dtype), "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def feeds_for(model):
    f = {"ids": np.array([0, 11, 2], dtype=np.int64)}
    if any(i.name == "ids2" for i in model.graph.input):
        f["ids2"] = np.array([5, 1], dtype=np.int64)
    return f


@needs_olive
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("block_size", [16, 32])
def test_gather_and_matmul(tmp_path, bits, symmetric, block_size):
    """Rows of 38: a last block shorter than the others; zero-range rows."""
    model = embed_model(d=38)
    theirs = olive_quantize(model, bits, block_size, symmetric)
    ours = ours_quantize(model, tmp_path, bits, block_size, symmetric)
    assert [n.op_type for n in ours.graph.node] == ["GatherBlockQuantized", "MatMulNBits"]
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, feeds_for(model))


@needs_olive
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_odd_rows(tmp_path, bits, symmetric):
    """Rows of 37. With 8 bits as Olive. With 4 bits Olive pads each packed row with a zero
    nibble, which onnxruntime reads as a 38th column (a wrong output shape): that Gather stays
    float here, and the rest is what Olive writes when told to leave it."""
    model = embed_model(d=37)
    ours = ours_quantize(model, tmp_path, bits, 16, symmetric)
    theirs = olive_quantize(model, bits, 16, symmetric, nodes_to_exclude=["embed"] if bits == 4 else None)
    assert ours.graph.node[0].op_type == ("Gather" if bits == 4 else "GatherBlockQuantized")
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, feeds_for(model))
    if bits == 4:  # what Olive writes for that Gather: 38 columns into the MatMul's K of 37
        with pytest.raises(Exception, match="Incompatible dimensions"):
            run(olive_quantize(model, bits, 16, symmetric), feeds_for(model))


@needs_olive
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_float16(tmp_path, bits, symmetric):
    model = embed_model(d=64, dtype=np.float16)
    theirs = olive_quantize(model, bits, 32, symmetric)
    ours = ours_quantize(model, tmp_path, bits, 32, symmetric)
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, feeds_for(model))


@needs_olive
@pytest.mark.parametrize("bits", [4, 8])
def test_shared_table(tmp_path, bits):
    """A table read by two Gathers is quantized once; both read the same tensors."""
    model = embed_model(d=38, shared=True)
    theirs = olive_quantize(model, bits, 16, False)
    ours = ours_quantize(model, tmp_path, bits, 16, False)
    assert [n.op_type for n in ours.graph.node] == ["GatherBlockQuantized", "MatMulNBits", "GatherBlockQuantized"]
    assert ours.graph.node[0].input[0] == ours.graph.node[2].input[0] == f"E_Q{bits}"
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, feeds_for(model))


@needs_olive
@pytest.mark.parametrize("exclude,include", [(["embed"], None), (["proj", "embed2"], None), (None, ["embed2"])])
def test_nodes_to_exclude_and_include(tmp_path, exclude, include):
    """The lists apply to Gathers and MatMuls alike; a table still read by an excluded Gather
    stays float for it."""
    model = embed_model(d=38, shared=True)
    theirs = olive_quantize(model, 4, 32, True, exclude, include)
    ours = ours_quantize(model, tmp_path, 4, 32, True, exclude, include)
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, feeds_for(model))


@needs_olive
def test_defaults(tmp_path):
    """The type's defaults (4 bits, block 128, symmetric); nothing but the type name given."""
    model = embed_model(d=300)
    theirs = olive_quantize(model)
    ours = apply_pass(TYPE, model, tmp_path)
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, feeds_for(model))


def test_quantize_keeps_its_own_layout(tmp_path):
    """The quantize pass under its own name still leaves Gathers alone and writes ONNX
    Runtime's names (no reference needed: this is the absence of the Olive behaviour)."""
    model = embed_model()
    ours = apply_pass("quantize", model, tmp_path, "block_size=32", "is_symmetric=false")
    assert [n.op_type for n in ours.graph.node] == ["Gather", "MatMulNBits"]
    assert ours.graph.node[1].output[0] == "y"
    assert [t.name for t in ours.graph.initializer] == ["E", "W_Q4", "W_scales", "W_zero_points"]


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    if not CLI:
        pytest.skip("OLIVE_CLI is not set")
    d = tmp_path_factory.mktemp("bert")
    r = subprocess.run([CLI, "run-pass", "--pass", "convert", "-m", str(DATA / "convert_encoder" / "bert_seqcls"),
                        "-o", str(d / "model"), "--param", "precision=fp32"], capture_output=True, text=True,
                       timeout=300, cwd=d)
    assert r.returncode == 0, r.stderr
    return onnx.load(str(d / "model" / "model.onnx"))


@needs_olive
@pytest.mark.parametrize("bits", [4, 8])
def test_bert(tmp_path, bert, bits):
    """A converted BERT classifier: word, position and type embeddings become
    GatherBlockQuantized, every projection MatMulNBits, and both models classify alike."""
    theirs = olive_quantize(bert, bits, 32, True)
    ours = ours_quantize(bert, tmp_path, bits, 32, True)
    ops = [n.op_type for n in ours.graph.node]
    assert "GatherBlockQuantized" in ops and "MatMulNBits" in ops
    assert_same_model(ours, theirs)
    rng = np.random.default_rng(0)
    feeds = {}
    for i in bert.graph.input:
        shape = [2, 7]
        if i.name == "input_ids":
            feeds[i.name] = rng.integers(0, 100, shape).astype(np.int64)
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones(shape, dtype=np.int64)
        else:
            feeds[i.name] = np.zeros(shape, dtype=np.int64)
    assert_same_outputs(ours, theirs, feeds)


@needs_olive
def test_nothing_to_quantize(tmp_path):
    """A Gather on a graph input stays; Olive still imports com.microsoft and drops an
    initializer that nothing reads."""
    graph = helper.make_graph(
        [helper.make_node("Gather", ["T", "ids"], ["y"], name="g", axis=0)], "g",
        [helper.make_tensor_value_info("T", TensorProto.FLOAT, [4, 32]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 32])],
        initializer=[numpy_helper.from_array(table(4, 32, 3), "unused")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    theirs = olive_quantize(model, 4, 32)
    ours = ours_quantize(model, tmp_path, 4, 32)
    assert [t.name for t in ours.graph.initializer] == []
    assert_same_model(ours, theirs)


@needs_olive
def test_qdq_keeps_olive_gathers(tmp_path):
    """quant_format=QDQ under the Olive type: MatMuls take onnxruntime's QDQ form (checked
    against onnxruntime in test_quantize.py), Gathers stay exactly as Olive writes them."""
    model = embed_model(d=64)
    theirs = olive_quantize(model, 4, 32, False)
    ours = apply_pass(TYPE, model, tmp_path, "block_size=32", "is_symmetric=false", "quant_format=QDQ")
    assert [n.op_type for n in ours.graph.node] == ["GatherBlockQuantized", "DequantizeLinear", "MatMul"]
    assert nodes(ours)[0] == nodes(theirs)[0]
    want = {i[0]: i for i in initializers(theirs) if i[0].startswith("E_")}
    assert {i[0]: i for i in initializers(ours) if i[0].startswith("E_")} == want
    # onnxruntime fuses DequantizeLinear + MatMul into MatMulNBits, by default with
    # accuracy_level 4 (A rounded to int8); at level 0 it computes as Olive's MatMulNBits does.
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "0")
    sess = ort.InferenceSession(ours.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    a, b = sess.run(None, feeds_for(model))[0], run(theirs, feeds_for(model))[0]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


@needs_olive
@pytest.mark.parametrize("bits", [4, 8])
def test_tied_head_and_gather_axis(tmp_path, bits):
    """An lm_head reading the table through a Transpose stays a MatMul (its B is computed),
    as in Olive. A Gather along axis 1 and one on a 1-D table stay float: Olive writes
    GatherBlockQuantized with gather_axis 1 on UINT8 data, or 1-D data, which onnxruntime
    refuses to load."""
    rng = np.random.default_rng(4)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "ids"], ["h"], name="embed"),
         helper.make_node("Transpose", ["E"], ["Et"], name="t", perm=[1, 0]),
         helper.make_node("MatMul", ["h", "Et"], ["logits"], name="head"),
         helper.make_node("Gather", ["C", "cols"], ["picked"], name="pick", axis=1),
         helper.make_node("Gather", ["S", "cols"], ["scalars"], name="scalar")], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [3]),
         helper.make_tensor_value_info("cols", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [3, 12]),
         helper.make_tensor_value_info("picked", TensorProto.FLOAT, [6, 2]),
         helper.make_tensor_value_info("scalars", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(table(12, 64, 5), "E"),
                     numpy_helper.from_array(rng.standard_normal((6, 32)).astype(np.float32), "C"),
                     numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "S")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    feeds = {"ids": np.array([0, 11, 2]), "cols": np.array([3, 31])}
    with pytest.raises(Exception, match="gather_axis must be 0"):
        run(olive_quantize(model, bits, 32, True, nodes_to_exclude=["scalar"]), feeds)
    with pytest.raises(Exception, match="must have rank > 1"):
        run(olive_quantize(model, bits, 32, True, nodes_to_exclude=["pick"]), feeds)
    theirs = olive_quantize(model, bits, 32, True, nodes_to_exclude=["pick", "scalar"])
    ours = ours_quantize(model, tmp_path, bits, 32, True)
    assert [n.op_type for n in ours.graph.node] == ["GatherBlockQuantized", "Transpose", "MatMul", "Gather", "Gather"]
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, feeds)


def subgraph_nodes(model):
    out = []
    for n in model.graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                m = helper.make_model(a.g)
                out.append((a.name, nodes(m), initializers(m), [o.name for o in a.g.output]))
    return out


@needs_olive
@pytest.mark.parametrize("bits", [4, 8])
def test_if_branches(tmp_path, bits):
    """Olive quantizes what If branches read, an outer table and an outer weight once for both
    branches (into the outer graph), a branch's own table into the branch (where its float
    table stays: only the main graph loses unread initializers); branch outputs are renamed."""
    rng = np.random.default_rng(6)
    then = helper.make_graph([helper.make_node("Gather", ["Es", "ids"], ["a"], name="sub_embed"),
                              helper.make_node("MatMul", ["a", "W"], ["b"], name="sub_mm")], "then", [],
                             [helper.make_tensor_value_info("b", TensorProto.FLOAT, [3, 4])],
                             initializer=[numpy_helper.from_array(table(8, 32, 7), "Es")])
    other = helper.make_graph([helper.make_node("Gather", ["E", "ids"], ["c"], name="else_embed"),
                               helper.make_node("MatMul", ["c", "W"], ["d"], name="else_mm")], "else", [],
                              [helper.make_tensor_value_info("d", TensorProto.FLOAT, [3, 4])])
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then, else_branch=other)], "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
        initializer=[numpy_helper.from_array(table(8, 32, 8), "E"),
                     numpy_helper.from_array(rng.standard_normal((32, 4)).astype(np.float32), "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    theirs = olive_quantize(model, bits, 16, False)
    ours = ours_quantize(model, tmp_path, bits, 16, False)
    assert [t.name for t in ours.graph.initializer] == [f"E_Q{bits}", "E_scales", "E_zero_point", f"W_Q{bits}",
                                                        "W_scales", "W_zero_point"]
    assert_same_model(ours, theirs)
    assert subgraph_nodes(ours) == subgraph_nodes(theirs)
    for cond in (True, False):
        assert_same_outputs(ours, theirs, {"cond": np.array(cond), "ids": np.array([0, 7, 2])})


@needs_olive
def test_unsorted_graph(tmp_path):
    """Olive sorts the graph first as onnx_ir does (from the sinks, the latest node first): the
    producer moves up to its consumer, where a forward stable sort would move the consumer down."""
    w = np.random.default_rng(9).standard_normal((32, 32)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["b", "W"], ["c"], name="late"),
         helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("Neg", ["x"], ["z"], name="neg"),
         helper.make_node("MatMul", ["x", "W"], ["b"], name="early")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 32])],
        [helper.make_tensor_value_info(v, TensorProto.FLOAT, [2, 32]) for v in ("c", "r", "z")],
        initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    theirs = olive_quantize(model, 4, 32)
    ours = ours_quantize(model, tmp_path, 4, 32)
    assert [n.name for n in ours.graph.node] == ["early_Q4", "late_Q4", "relu", "neg"]
    assert_same_model(ours, theirs)
    assert_same_outputs(ours, theirs, {"x": np.random.default_rng(1).standard_normal((2, 32)).astype(np.float32)})
