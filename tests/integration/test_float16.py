"""The float16 pass, run through $OLIVE_APPLY_PASS on models built with onnx.helper and on the
float32 models of the ONNX test data (pytorch-converted, pytorch-operator). Each result must pass onnx.checker,
load in onnxruntime, contain no Cast to the type its input already has, and give the float32
model's outputs within float16 tolerance; where onnxruntime's own converter handles the model,
our error may not be much worse than its error."""

import glob
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, const, make_model, vi  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
TESTDATA = "/usr/share/libonnx-testdata/data"
TESTDATA_SETS = ("pytorch-converted", "pytorch-operator")

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

F = TensorProto.FLOAT
F16 = TensorProto.FLOAT16
BF16 = TensorProto.BFLOAT16
I64 = TensorProto.INT64


def run_pass(model, tmp_path, *params, expect_ok=True):
    # full_check adds shape inference, which some old test models fail already as given
    r = apply_pass("float16", model, tmp_path, *params, expect_ok=expect_ok, timeout=300,
                   full_check=passes_full_check(model))
    return r if expect_ok else r[0]


def passes_full_check(model):
    try:
        onnx.checker.check_model(model, full_check=True)
        return True
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError):
        return False


def all_nodes(graph):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(a.g)
            for g in a.graphs:
                yield from all_nodes(g)


def ops(graph, op):
    return [n for n in all_nodes(graph) if n.op_type == op]


def value_types(model):
    """Element types of every value, from onnx shape inference over the result."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except onnx.shape_inference.InferenceError:
        inferred = model  # an old opset whose own rules reject the source model too
    types = {}

    def walk(g):
        for v in list(g.input) + list(g.output) + list(g.value_info):
            if v.type.HasField("tensor_type"):
                types[v.name] = v.type.tensor_type.elem_type
        for t in g.initializer:
            types[t.name] = t.data_type
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)

    walk(inferred.graph)
    return types


def assert_no_same_type_cast(model):
    types = value_types(model)
    for n in all_nodes(model.graph):
        if n.op_type == "Cast" and n.input[0] in types:
            to = helper.get_attribute_value(n.attribute[0])
            assert types[n.input[0]] != to, f"Cast {n.name} casts {n.input[0]} to its own type"
    # and no Cast that feeds straight into a Cast back to the first one's input type
    producers = {o: n for n in all_nodes(model.graph) for o in n.output}
    for n in ops(model.graph, "Cast"):
        p = producers.get(n.input[0])
        if p is not None and p.op_type == "Cast" and p.input[0] in types:
            assert types[p.input[0]] != helper.get_attribute_value(n.attribute[0]), f"Cast pair {p.name} -> {n.name}"


def session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def feeds_for(model, rng, given=None):
    feeds = {}
    inits = {t.name for t in model.graph.initializer}
    for i in model.graph.input:
        if i.name in inits:
            continue
        if given and i.name in given:
            feeds[i.name] = given[i.name]
            continue
        tt = i.type.tensor_type
        shape = [d.dim_value if d.dim_value > 0 else 2 for d in tt.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[i.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def run_model(model, feeds):
    sess = session(model)
    cast = {}
    for i in sess.get_inputs():
        want = {"tensor(float16)": np.float16, "tensor(float)": np.float32}.get(i.type)
        cast[i.name] = feeds[i.name].astype(want) if want is not None else feeds[i.name]
    return [np.asarray(o, dtype=np.float64) if o.dtype.kind == "f" else o
            for o in sess.run(None, {k: cast[k] for k in cast})]


def max_rel_error(ref, got):
    err = 0.0
    for r, g in zip(ref, got):
        assert r.shape == g.shape
        if r.dtype.kind != "f":
            np.testing.assert_array_equal(r, g)
            continue
        scale = max(1.0, float(np.max(np.abs(r))) if r.size else 1.0)
        err = max(err, float(np.max(np.abs(r - g))) / scale if r.size else 0.0)
    return err


def io_types(model):
    return ([i.type.tensor_type.elem_type for i in model.graph.input],
            [o.type.tensor_type.elem_type for o in model.graph.output])


# ---- models built here ----

def mlp(rng):
    w1 = rng.standard_normal((4, 8)).astype(np.float32)
    w2 = rng.standard_normal((8, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    return make_model(nodes, [vi("x", F, [2, 4])], [vi("y", F, [2, 3])], [const("w1", w1), const("w2", w2)])


@pytest.mark.parametrize("keep_io", [False, True])
def test_mlp(tmp_path, keep_io):
    rng = np.random.default_rng(0)
    model = mlp(rng)
    out = run_pass(model, tmp_path, f"keep_io_types={str(keep_io).lower()}")
    assert all(t.data_type == F16 for t in out.graph.initializer)
    want = F if keep_io else F16
    assert io_types(out) == ([want], [want])
    assert len(ops(out.graph, "Cast")) == (2 if keep_io else 0)
    assert_no_same_type_cast(out)
    feeds = feeds_for(model, rng)
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2
    # graph interface keeps its names
    assert [i.name for i in out.graph.input] == ["x"] and [o.name for o in out.graph.output] == ["y"]


def test_olive_options_accepted(tmp_path):
    """Olive's disable_shape_infer is accepted and changes nothing."""
    model = mlp(np.random.default_rng(5))
    plain = run_pass(model, tmp_path)
    olive = run_pass(model, tmp_path, "disable_shape_infer=true")
    assert plain.SerializeToString() == olive.SerializeToString()


def test_bfloat16(tmp_path):
    rng = np.random.default_rng(1)
    model = mlp(rng)
    out = run_pass(model, tmp_path, "dtype=bfloat16", "keep_io_types=true")
    assert all(t.data_type == BF16 for t in out.graph.initializer)
    w1 = numpy_helper.to_array(model.graph.initializer[0])
    got = numpy_helper.to_array(next(t for t in out.graph.initializer if t.name == "w1")).astype(np.float32)
    np.testing.assert_allclose(got, w1, rtol=2 ** -8)


def test_clamping(tmp_path):
    values = np.array([1e-9, -1e-9, 1e6, -1e6, 0.0, np.inf, -np.inf, 1.5, 70000.0], dtype=np.float32)
    nodes = [helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    model = make_model(nodes, [vi("x", F, [9])], [vi("y", F, [9])], [const("c", values)])
    out = run_pass(model, tmp_path)
    got = numpy_helper.to_array(out.graph.initializer[0])
    assert got.dtype == np.float16
    tiny = np.float16(5.96e-08)
    expect = np.array([tiny, -tiny, 65504, -65504, 0, np.inf, -np.inf, 1.5, 65504], dtype=np.float16)
    np.testing.assert_array_equal(got, expect)
    out2 = run_pass(model, tmp_path, "max_finite_val=1000", "min_positive_val=0.001")
    got2 = numpy_helper.to_array(out2.graph.initializer[0])
    np.testing.assert_array_equal(got2[:4], np.array([0.001, -0.001, 1000, -1000], dtype=np.float16))


def test_blocked_op(tmp_path):
    """TopK is blocked by default: it stays float32, with a Cast in and a Cast out."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((6,)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
             helper.make_node("TopK", ["m", "k"], ["v", "i"], name="topk"),
             helper.make_node("Relu", ["v"], ["y"], name="relu")]
    model = make_model(nodes, [vi("x", F, [6])], [vi("y", F, [3]), vi("i", I64, [3])],
                       [const("w", w), const("k", np.array([3], dtype=np.int64))])
    out = run_pass(model, tmp_path)
    assert_no_same_type_cast(out)
    types = value_types(out)
    topk = ops(out.graph, "TopK")[0]
    assert types[topk.input[0]] == F and types[topk.output[0]] == F
    assert types["y"] == F16
    assert len(ops(out.graph, "Cast")) == 2
    feeds = feeds_for(model, rng)
    ref, got = run_model(model, feeds), run_model(out, feeds)
    assert max_rel_error(ref[:1], got[:1]) < 1e-2
    # with an empty block list TopK runs in float16 too
    out2 = run_pass(model, tmp_path, "op_block_list=")
    assert not ops(out2.graph, "Cast")


def test_node_block_list(tmp_path):
    rng = np.random.default_rng(3)
    model = mlp(rng)
    out = run_pass(model, tmp_path, "node_block_list=mm2")
    assert_no_same_type_cast(out)
    types = value_types(out)
    mm2 = next(n for n in out.graph.node if n.name == "mm2")
    assert types[mm2.input[0]] == F and types[mm2.input[1]] == F
    # w2 is read only by the blocked node: it stays float32
    assert next(t for t in out.graph.initializer if t.name == "w2").data_type == F
    assert types["y"] == F16
    feeds = feeds_for(model, rng)
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


def test_keep_io_blocked_first_node(tmp_path):
    """An input read by a blocked node with keep_io_types is read directly: no Cast pair."""
    nodes = [helper.make_node("CumSum", ["x", "axis"], ["c"], name="cumsum"),
             helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Add", ["c", "r"], ["y"], name="add")]
    model = make_model(nodes, [vi("x", F, [5])], [vi("y", F, [5])], [const("axis", np.array(0, dtype=np.int64))])
    out = run_pass(model, tmp_path, "keep_io_types=true")
    assert_no_same_type_cast(out)
    cumsum = ops(out.graph, "CumSum")[0]
    assert cumsum.input[0] == "x"
    feeds = {"x": np.linspace(-2, 2, 5).astype(np.float32)}
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


def test_constants_and_casts(tmp_path):
    value = helper.make_tensor("v", F, [3], [1.0, 2.0, 1e-10])
    nodes = [helper.make_node("Constant", [], ["c1"], name="c1", value=value),
             helper.make_node("Constant", [], ["c2"], name="c2", value_float=0.5),
             helper.make_node("Constant", [], ["c3"], name="c3", value_floats=[1.0, 2.0, 3.0]),
             helper.make_node("Add", ["x", "c1"], ["a"]),
             helper.make_node("Mul", ["a", "c2"], ["b"]),
             helper.make_node("Sub", ["b", "c3"], ["s"]),
             helper.make_node("Cast", ["s"], ["y"], to=F),
             helper.make_node("Shape", ["x"], ["shp"]),
             helper.make_node("ConstantOfShape", ["shp"], ["z"]),
             helper.make_node("Add", ["y", "z"], ["out"])]
    model = make_model(nodes, [vi("x", F, [3])], [vi("out", F, [3])])
    out = run_pass(model, tmp_path)
    assert_no_same_type_cast(out)
    for n in ops(out.graph, "Constant"):
        assert n.attribute[0].name == "value" and n.attribute[0].t.data_type == F16
    assert not ops(out.graph, "Cast")  # the float Cast became float16 -> float16 and went away
    assert value_types(out)["out"] == F16
    feeds = {"x": np.array([0.5, -1.0, 3.0], dtype=np.float32)}
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


def if_model():
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["t"])], "then", [], [vi("t", F, [3])],
                               [const("two", np.full(3, 2.0, dtype=np.float32))])
    else_g = helper.make_graph([helper.make_node("TopK", ["x", "k"], ["e", "ei"], name="inner_topk")], "else", [],
                               [vi("e", F, [3])], [const("k", np.array([3], dtype=np.int64))])
    nodes = [helper.make_node("ReduceSum", ["x"], ["sum"], keepdims=0),
             helper.make_node("Greater", ["sum", "zero"], ["cond"]),
             helper.make_node("If", ["cond"], ["r"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Relu", ["r"], ["y"])]
    return make_model(nodes, [vi("x", F, [3])], [vi("y", F, [3])], [const("zero", np.array(0.0, dtype=np.float32))])


@pytest.mark.parametrize("keep_io", [False, True])
def test_if_subgraph(tmp_path, keep_io):
    model = if_model()
    out = run_pass(model, tmp_path, f"keep_io_types={str(keep_io).lower()}")
    assert_no_same_type_cast(out)
    node_if = ops(out.graph, "If")[0]
    branches = {a.name: a.g for a in node_if.attribute}
    assert branches["then_branch"].initializer[0].data_type == F16
    assert branches["then_branch"].output[0].type.tensor_type.elem_type == F16
    assert branches["else_branch"].output[0].type.tensor_type.elem_type == F16
    # the blocked TopK in the else branch reads float32 (the float32 input itself with
    # keep_io_types, a Cast otherwise) and its result is cast back
    assert len(ops(branches["else_branch"], "Cast")) == (1 if keep_io else 2)
    if keep_io:
        assert ops(branches["else_branch"], "TopK")[0].input[0] == "x"
    for x in ([1.0, 2.0, 3.0], [-1.0, -5.0, 2.0]):
        feeds = {"x": np.array(x, dtype=np.float32)}
        assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


def test_loop_subgraph(tmp_path):
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Mul", ["acc_in", "w"], ["acc_out"])],
        "body", [vi("i", I64, []), vi("cond_in", TensorProto.BOOL, []), vi("acc_in", F, [2])],
        [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", F, [2])])
    nodes = [helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)]
    model = make_model(nodes, [vi("x", F, [2])], [vi("y", F, [2])],
                       [const("n", np.array(3, dtype=np.int64)), const("w", np.array([1.5, -0.5], dtype=np.float32))])
    out = run_pass(model, tmp_path)
    assert_no_same_type_cast(out)
    feeds = {"x": np.array([1.0, 2.0], dtype=np.float32)}
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


def test_bad_parameter(tmp_path):
    proc = run_pass(mlp(np.random.default_rng(0)), tmp_path, "dtype=float8", expect_ok=False)
    assert proc.returncode != 0 and "dtype" in proc.stderr


# ---- ONNX test data ----

def float32_testdata():
    found = []
    paths = [p for d in TESTDATA_SETS for p in glob.glob(os.path.join(TESTDATA, d, "*", "model.onnx"))]
    for path in sorted(paths):
        try:
            m = onnx.load(path)
        except Exception:  # noqa: BLE001
            continue
        ins = [i.type.tensor_type.elem_type for i in m.graph.input]
        if F in ins and all(t in (F, I64) for t in ins):
            found.append(path)
    return found


def load_inputs(model_path, model):
    ds = sorted(glob.glob(os.path.join(os.path.dirname(model_path), "test_data_set_*")))
    if not ds:
        return None
    feeds = {}
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    for k, f in enumerate(sorted(glob.glob(os.path.join(ds[0], "input_*.pb")))):
        t = onnx.TensorProto()
        with open(f, "rb") as fh:
            t.ParseFromString(fh.read())
        feeds[t.name or names[k]] = numpy_helper.to_array(t)
    return feeds


def ort_reference():
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
        return convert_float_to_float16
    except ImportError:
        return None


def ort_converted(model):
    convert = ort_reference()
    if convert is None:
        return None
    try:
        return convert(onnx.load_from_string(model.SerializeToString()), keep_io_types=True)
    except Exception:  # noqa: BLE001 - the reference converter does not handle every model
        return None


def runs_in_ort(model):
    try:
        session(model)
        return True
    except ort.capi.onnxruntime_pybind11_state.NotImplemented:
        return False


MODELS = float32_testdata() if os.path.isdir(TESTDATA) else []


@pytest.mark.skipif(not MODELS, reason="no libonnx test data")
@pytest.mark.parametrize("path", MODELS, ids=lambda p: "/".join(p.split(os.sep)[-3:-1]))
def test_testdata(tmp_path, path):
    model = onnx.load(path)
    feeds = load_inputs(path, model) or feeds_for(model, np.random.default_rng(0))
    out = run_pass(model, tmp_path, "keep_io_types=true")
    assert_no_same_type_cast(out)
    assert io_types(out) == io_types(model)
    reference = ort_converted(model)
    if not runs_in_ort(out):
        # Old opsets: onnxruntime's CPU kernels for them are float32 only. Its own
        # converter's result must fail to load in the same way.
        assert reference is not None and not runs_in_ort(reference)
        return
    ref = run_model(model, feeds)
    err = max_rel_error(ref, run_model(out, feeds))
    ort_err = None
    if reference is not None and runs_in_ort(reference):
        ort_err = max_rel_error(ref, run_model(reference, feeds))
    limit = 2e-2 if ort_err is None else max(2e-2, 4 * ort_err)
    assert err < limit, f"relative error {err} (onnxruntime's converter: {ort_err})"


# ---- io_datatype ----

def run_io_pass(model, tmp_path, *params):
    src = tmp_path / "io_in.onnx"
    dst = tmp_path / "io_out.onnx"
    onnx.save(model, str(src))
    proc = subprocess.run([TOOL, "io_datatype", str(src), str(dst), *params], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"apply_pass failed ({proc.returncode}): {proc.stderr.strip()}"
    out = onnx.load(str(dst))
    onnx.checker.check_model(out, full_check=True)
    return out


def test_io_datatype_pattern(tmp_path):
    nodes = [helper.make_node("Relu", ["logits_in"], ["logits"]), helper.make_node("Neg", ["other_in"], ["other"])]
    model = make_model(nodes, [vi("logits_in", F16, [3]), vi("other_in", F16, [3])],
                       [vi("logits", F16, [3]), vi("other", F16, [3])])
    out = run_io_pass(model, tmp_path)  # default: float16 -> float for names containing "logits"
    assert io_types(out) == ([F, F16], [F, F16])
    assert [i.name for i in out.graph.input] == ["logits_in", "other_in"]
    assert [o.name for o in out.graph.output] == ["logits", "other"]
    x = np.array([-1.0, 0.5, 2.0], dtype=np.float32)
    got = session(out).run(None, {"logits_in": x, "other_in": x.astype(np.float16)})
    assert got[0].dtype == np.float32 and got[1].dtype == np.float16
    np.testing.assert_array_equal(got[0], np.maximum(x, 0))
    np.testing.assert_array_equal(got[1], -x.astype(np.float16))


def test_float16_then_io_datatype(tmp_path):
    """float16 without keep_io_types, then io_datatype on every name: float32 at the edges."""
    rng = np.random.default_rng(4)
    model = mlp(rng)
    half = run_pass(model, tmp_path)
    assert io_types(half) == ([F16], [F16])
    out = run_io_pass(half, tmp_path, "name_pattern=", "source_dtype=10", "target_dtype=1")
    assert io_types(out) == ([F], [F])
    assert_no_same_type_cast(out)
    feeds = feeds_for(model, rng)
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


def test_io_datatype_bad_pattern(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", F16, [3])], [vi("y", F16, [3])])
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    proc = subprocess.run([TOOL, "io_datatype", str(src), str(dst), "name_pattern=("], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and "name_pattern" in proc.stderr and not dst.exists()


def test_resize_scales_stay_float(tmp_path):
    """Resize's scales must be float32: the initializer stays float32 and needs no Cast."""
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["r"], mode="nearest"),
             helper.make_node("Relu", ["r"], ["y"])]
    model = make_model(nodes, [vi("x", F, [1, 1, 2, 2])], [vi("y", F, [1, 1, 4, 4])],
                       [const("scales", np.array([1, 1, 2, 2], dtype=np.float32))])
    out = run_pass(model, tmp_path)
    assert next(t for t in out.graph.initializer if t.name == "scales").data_type == F
    assert not ops(out.graph, "Cast")
    feeds = {"x": np.array([[[[1.0, -2.0], [3.0, 4.5]]]], dtype=np.float32)}
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-3


def test_sequence_ops_stay_float(tmp_path):
    """Sequences keep float32 elements; tensors are cast where they enter and leave them."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("SequenceConstruct", ["x", "r"], ["seq"]),
             helper.make_node("SequenceAt", ["seq", "one"], ["at"]),
             helper.make_node("Mul", ["at", "w"], ["y"])]
    model = make_model(nodes, [vi("x", F, [3])], [vi("y", F, [3])],
                       [const("one", np.array(1, dtype=np.int64)), const("w", np.array([2.0, 3.0, -1.0], np.float32))])
    out = run_pass(model, tmp_path)
    assert_no_same_type_cast(out)
    seq_in = ops(out.graph, "SequenceConstruct")[0].input
    types = value_types(out)
    assert all(types[v] == F for v in seq_in)
    assert types["y"] == F16
    feeds = {"x": np.array([-1.0, 0.5, 2.0], dtype=np.float32)}
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


# ---- Olive's / onnxruntime's converter options, against onnxruntime's converter ----

def two_io_model(rng):
    w = rng.standard_normal((4, 4)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x1", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "x2"], ["y1"], name="add"),
             helper.make_node("Relu", ["y1"], ["y2"], name="relu")]
    return make_model(nodes, [vi("x1", F, [2, 4]), vi("x2", F, [2, 4])], [vi("y1", F, [2, 4]), vi("y2", F, [2, 4])],
                      [const("w", w)])


def ort_convert(model, **kw):
    convert = ort_reference()
    if convert is None:
        pytest.skip("onnxruntime.transformers.float16 is not importable")
    return convert(onnx.load_from_string(model.SerializeToString()), **kw)


def init_types(model):
    return {t.name: t.data_type for t in model.graph.initializer}


@pytest.mark.parametrize("keep", [["x1", "y2"], ["x2"], ["y1", "y2"], []])
def test_keep_io_types_list(tmp_path, keep):
    """keep_io_types as a list of names keeps exactly those inputs and outputs float32, as
    onnxruntime's converter does with a list."""
    rng = np.random.default_rng(21)
    model = two_io_model(rng)
    out = run_pass(model, tmp_path, "keep_io_types=" + (",".join(keep) if keep else "false"))
    ref = ort_convert(model, keep_io_types=keep)
    assert io_types(out) == io_types(ref), (io_types(out), io_types(ref))
    assert [i.name for i in out.graph.input] == ["x1", "x2"] and [o.name for o in out.graph.output] == ["y1", "y2"]
    assert_no_same_type_cast(out)
    feeds = {n: rng.standard_normal((2, 4)).astype(np.float32 if io_types(out)[0][k] == F else np.float16)
             for k, n in enumerate(["x1", "x2"])}
    ref_feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    for got, want in zip(run_model(out, feeds), run_model(model, ref_feeds)):
        assert max_rel_error([want], [got]) < 1e-2


def blocked_reader_model(rng):
    """An initializer only a blocked node reads (TopK is in the default block list: here its K
    is int64, so a float16 Add feeding a blocked Mul on node_block_list instead)."""
    a = rng.standard_normal((3,)).astype(np.float32)
    b = rng.standard_normal((3,)).astype(np.float32)
    nodes = [helper.make_node("Add", ["x", "a"], ["h"], name="add"),
             helper.make_node("Mul", ["h", "b"], ["y"], name="mul")]
    return make_model(nodes, [vi("x", F, [3])], [vi("y", F, [3])], [const("a", a), const("b", b)])


@pytest.mark.parametrize("force", [False, True])
def test_force_fp16_initializers(tmp_path, force):
    rng = np.random.default_rng(22)
    model = blocked_reader_model(rng)
    out = run_pass(model, tmp_path, "node_block_list=mul", f"force_fp16_initializers={str(force).lower()}")
    ref = ort_convert(model, node_block_list=["mul"], force_fp16_initializers=force)
    assert init_types(out) == init_types(ref) == {"a": F16, "b": F16 if force else F}
    assert_no_same_type_cast(out)
    feeds = feeds_for(model, rng)
    assert max_rel_error(run_model(model, feeds), run_model(out, feeds)) < 1e-2


def group_norm_model():
    nodes = [helper.make_node("GroupNorm", ["x", "gamma", "beta"], ["y"], name="gn", domain="com.microsoft",
                              activation=0, epsilon=1e-5, groups=1, channels_last=1)]
    graph = helper.make_graph(nodes, "g", [vi("x", F, [1, 2, 2, 4])], [vi("y", F, [1, 2, 2, 4])],
                              initializer=[const("gamma", np.ones(4, np.float32)), const("beta", np.zeros(4, np.float32))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("forced", ["", "GroupNorm:1,2", '{"GroupNorm":[2]}'])
def test_force_fp16_inputs(tmp_path, forced):
    """GroupNorm's gamma and beta stay float32 unless force_fp16_inputs names them, as in
    onnxruntime's converter."""
    model = group_norm_model()
    out = run_pass(model, tmp_path, f"force_fp16_inputs={forced}")
    ref_forced = {"": None, "GroupNorm:1,2": {"GroupNorm": [1, 2]}, '{"GroupNorm":[2]}': {"GroupNorm": [2]}}[forced]
    ref = ort_convert(model, force_fp16_inputs=ref_forced)
    assert init_types(out) == init_types(ref), (init_types(out), init_types(ref))
    want = {"": (F, F), "GroupNorm:1,2": (F16, F16), '{"GroupNorm":[2]}': (F, F16)}[forced]
    assert (init_types(out)["gamma"], init_types(out)["beta"]) == want


def test_force_fp16_inputs_resize(tmp_path):
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")]
    model = make_model(nodes, [vi("x", F, [1, 1, 2, 2])], [vi("y", F, [1, 1, 4, 4])],
                       [const("scales", np.array([1, 1, 2, 2], dtype=np.float32))])
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    proc = subprocess.run([TOOL, "float16", str(src), str(dst), "force_fp16_inputs=Resize:2"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))  # float16 scales break Resize's schema: the caller asked for it
    assert init_types(out) == init_types(ort_convert(model, force_fp16_inputs={"Resize": [2]})) == {"scales": F16}


def test_clamp_values_as_onnxruntime(tmp_path):
    """min_positive_val / max_finite_val clamp initializers as onnxruntime's converter does."""
    vals = np.array([1e-9, -1e-9, 3e-8, 0.0, 2e4, -7e4, 1e5, 0.5, -np.inf, np.inf], dtype=np.float32)
    nodes = [helper.make_node("Add", ["x", "c"], ["y"], name="add")]
    model = make_model(nodes, [vi("x", F, [10])], [vi("y", F, [10])], [const("c", vals)])
    for lo, hi in ((1e-7, 1e4), (5.96e-08, 65504.0), (1e-3, 100.0)):
        out = run_pass(model, tmp_path, f"min_positive_val={lo}", f"max_finite_val={hi}")
        ref = ort_convert(model, min_positive_val=lo, max_finite_val=hi)
        got = numpy_helper.to_array(out.graph.initializer[0])
        want = numpy_helper.to_array(ref.graph.initializer[0])
        assert got.dtype == np.float16 and got.tobytes() == want.tobytes(), (lo, hi, got, want)


def test_option_errors(tmp_path):
    model = mlp(np.random.default_rng(23))
    for setting, word in (("force_fp16_inputs=Resize:-2", "force_fp16_inputs"),
                          ("force_fp16_inputs=3", "force_fp16_inputs"),
                          ("min_positive_val=1e-9", "min_positive_val"),
                          ("max_finite_val=70000", "max_finite_val")):
        proc = run_pass(model, tmp_path, setting, expect_ok=False)
        assert proc.returncode != 0 and word in proc.stderr, (setting, proc.stderr)
    same = run_pass(model, tmp_path, "use_symbolic_shape_infer=false")
    assert same.SerializeToString() == run_pass(model, tmp_path).SerializeToString()


def round_to(values, elem_type):
    """float64 values rounded to an ONNX float type: float32, float16, or bfloat16 (round to
    nearest even on the top 16 bits of float32)."""
    v = np.asarray(values, dtype=np.float64)
    if elem_type == F16:
        return v.astype(np.float16).astype(np.float64)
    f = v.astype(np.float32)
    if elem_type == BF16:
        bits = f.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    return f.astype(np.float64)


def initializer_values(t):
    if t.data_type == BF16:  # stored as the top 16 bits of float32
        raw = np.frombuffer(t.raw_data, np.uint16) if t.raw_data else np.asarray(t.int32_data, np.uint16)
        return (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64).reshape(tuple(t.dims))
    return numpy_helper.to_array(t).astype(np.float64)


def numpy_run(model, feeds):
    """Runs a graph of Add, Mul and Cast in numpy, each result rounded to its value's type."""
    types = value_types(model)
    vals = {t.name: initializer_values(t) for t in model.graph.initializer}
    vals.update({k: np.asarray(v, np.float64) for k, v in feeds.items()})
    for n in model.graph.node:
        if n.op_type == "Cast":
            vals[n.output[0]] = round_to(vals[n.input[0]], helper.get_attribute_value(n.attribute[0]))
        elif n.op_type in ("Add", "Mul"):
            a, b = vals[n.input[0]], vals[n.input[1]]
            vals[n.output[0]] = round_to(a + b if n.op_type == "Add" else a * b, types[n.output[0]])
        else:
            raise AssertionError(f"numpy_run has no {n.op_type}")
    return [vals[o.name] for o in model.graph.output]


def test_bfloat16_blocked_nodes(tmp_path):
    """use_bfloat16_as_blocked_nodes_dtype: a blocked node reads bfloat16 through a Cast and
    its output goes back to float16 through one, as onnxruntime's converter writes it (its
    float32-only initializer is cast to bfloat16 too, where onnxruntime feeds float32)."""
    rng = np.random.default_rng(24)
    model = blocked_reader_model(rng)
    out = run_pass(model, tmp_path, "node_block_list=mul", "use_bfloat16_as_blocked_nodes_dtype=true")
    ref = ort_convert(model, node_block_list=["mul"], use_bfloat16_as_blocked_nodes_dtype=True)
    for m in (out, ref):
        producer = {o: n for n in m.graph.node for o in n.output}
        mul = [n for n in m.graph.node if n.op_type == "Mul"][0]
        cast_in = producer[mul.input[0]]
        assert cast_in.op_type == "Cast" and helper.get_attribute_value(cast_in.attribute[0]) == BF16
        readers = [n for n in m.graph.node if mul.output[0] in n.input]
        assert [n.op_type for n in readers] == ["Cast"] and helper.get_attribute_value(readers[0].attribute[0]) == F16
    types = value_types(out)
    assert all(types[v] == BF16 for v in ops(out.graph, "Mul")[0].input)
    assert_no_same_type_cast(out)
    # onnxruntime's CPU provider has no bfloat16 Mul: the numbers are checked with numpy, which
    # runs the converted graph rounding each value to its type (float16, bfloat16, float32).
    x = rng.standard_normal(3).astype(np.float16)
    want = run_model(model, {"x": x.astype(np.float32)})
    got = numpy_run(out, {"x": x})
    assert max_rel_error(want, got) < 3e-2
    assert max_rel_error(want, got) > 0  # the bfloat16 rounding is there
    try:
        sess = session(out)
    except Exception as exc:  # onnxruntime's own error type
        assert "bfloat16" in str(exc) or "Mul" in str(exc), exc
    else:  # a build with the kernel must agree with numpy
        np.testing.assert_allclose(sess.run(None, {"x": x})[0].astype(np.float64), got[0], rtol=1e-2, atol=1e-2)
