"""Load + save of every model in ONNX's own backend test data, checked against the original.

For each model.onnx under the onnx test data folders, the roundtrip tool ($OLIVE_ROUNDTRIP)
loads it with libolive and saves a copy (weights of 1 KiB or more go to an external data file).
The copy must pass onnx.checker at the level the original passes, be equal to the original field
by field (tensors compared by decoded values, so moving bytes between raw_data, typed fields and
external data does not count), and give the same onnxruntime outputs on the bundled inputs.

Models that onnxruntime cannot run in their original form are recorded with the reason (in the
test's properties and in roundtrip-ort-unrunnable.txt under $OLIVE_BUILD_DIR); for them only the
checker and the protobuf comparison apply.
"""

import glob
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

TESTDATA = "/usr/share/libonnx-testdata/data"
SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
TOOL = os.environ.get("OLIVE_ROUNDTRIP")

MODELS = sorted(
    os.path.relpath(os.path.dirname(p), TESTDATA)
    for suite in SUITES
    for p in glob.glob(os.path.join(TESTDATA, suite, "*", "model.onnx"))
)

ORT_UNRUNNABLE = {}

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_ROUNDTRIP is not set (run through meson test)")


@pytest.fixture(scope="module", autouse=True)
def _write_unrunnable_list():
    yield
    out = os.environ.get("OLIVE_BUILD_DIR")
    if out and ORT_UNRUNNABLE:
        with open(os.path.join(out, "roundtrip-ort-unrunnable.txt"), "w") as f:
            for name, reason in sorted(ORT_UNRUNNABLE.items()):
                f.write(f"{name}: {reason}\n")


# ---- protobuf comparison ----

TENSOR_STORAGE = {"raw_data", "float_data", "int32_data", "string_data", "int64_data", "double_data",
                  "uint64_data", "external_data", "data_location"}

ATTR_VALUE_FIELDS = [("f", 1), ("i", 2), ("s", 3), ("t", 4), ("g", 5), ("sparse_tensor", 11), ("tp", 13),
                     ("floats", 6), ("ints", 7), ("strings", 8), ("tensors", 9), ("graphs", 10),
                     ("sparse_tensors", 12), ("type_protos", 14)]


def _repeated(fd):
    rep = getattr(fd, "is_repeated", None)
    return rep if rep is not None else fd.label == fd.LABEL_REPEATED


def _is_default(fd, value):
    if _repeated(fd):
        return len(value) == 0
    if fd.type == fd.TYPE_MESSAGE:
        return False  # presence of a sub-message is meaningful (e.g. a scalar's empty shape)
    return value == fd.default_value


def _tensor_values(t):
    if t.HasField("segment"):  # numpy_helper refuses segments; the field itself is compared apart
        t = onnx.TensorProto.FromString(t.SerializeToString())
        t.ClearField("segment")
    arr = numpy_helper.to_array(t)
    if arr.dtype == object:
        return ("strings", [bytes(x) if isinstance(x, (bytes, bytearray)) else x for x in arr.ravel().tolist()])
    return (str(arr.dtype), arr.shape, arr.tobytes())


def canon(msg):
    """A comparable form of a message: unset and default-valued fields dropped, tensors
    reduced to their decoded values."""
    name = msg.DESCRIPTOR.full_name
    out = {}
    for fd in msg.DESCRIPTOR.fields:
        if name == "onnx.TensorProto" and fd.name in TENSOR_STORAGE:
            continue
        if not _repeated(fd) and fd.type == fd.TYPE_MESSAGE:
            if not msg.HasField(fd.name):
                continue
            value = getattr(msg, fd.name)
        else:
            if fd.containing_oneof is not None and not msg.HasField(fd.name):
                continue
            value = getattr(msg, fd.name)
            if _is_default(fd, value) and fd.containing_oneof is None:
                continue
        if fd.type == fd.TYPE_MESSAGE:
            out[fd.name] = [canon(v) for v in value] if _repeated(fd) else canon(value)
        elif _repeated(fd):
            out[fd.name] = list(value)
        else:
            out[fd.name] = value
    if name == "onnx.TensorProto":
        out["<values>"] = _tensor_values(msg)
    if name == "onnx.AttributeProto" and not msg.type:
        # IR version 1 attributes carry no type: it follows from the field that is set.
        for field, kind in ATTR_VALUE_FIELDS:
            fd = msg.DESCRIPTOR.fields_by_name[field]
            present = msg.HasField(field) if not _repeated(fd) else len(getattr(msg, field)) > 0
            if present:
                out["type"] = kind
                break
    return out


def first_difference(a, b, path="model"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k}: present only in the {'original' if k in a else 'copy'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} entries != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


# ---- checker ----

def checker_level(model_or_path):
    """2: passes full_check, 1: passes the plain check, 0: fails."""
    try:
        onnx.checker.check_model(model_or_path, full_check=True)
        return 2
    except Exception:
        pass
    try:
        onnx.checker.check_model(model_or_path)
        return 1
    except Exception:
        return 0


# ---- onnxruntime ----

def read_input(path, type_proto):
    kind = type_proto.WhichOneof("value")
    with open(path, "rb") as f:
        data = f.read()
    if kind == "sequence_type":
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return numpy_helper.to_list(seq)
    if kind == "optional_type":
        opt = onnx.OptionalProto()
        opt.ParseFromString(data)
        return numpy_helper.to_optional(opt)
    if kind == "map_type":
        mp = onnx.MapProto()
        mp.ParseFromString(data)
        return numpy_helper.to_dict(mp)
    t = onnx.TensorProto()
    t.ParseFromString(data)
    return numpy_helper.to_array(t)


def load_inputs(model, folder):
    init_names = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init_names]
    sets = []
    for ds in sorted(glob.glob(os.path.join(folder, "test_data_set_*"))):
        files = sorted(glob.glob(os.path.join(ds, "input_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
        feed = {}
        for vi, path in zip(inputs, files):
            feed[vi.name] = read_input(path, vi.type)
        sets.append(feed)
    return sets


def run_ort(path, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return [sess.run(None, feed) for feed in feeds]


def same_outputs(a, b):
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same_outputs(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_outputs(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


@pytest.mark.parametrize("name", MODELS)
def test_roundtrip(name, tmp_path, record_property):
    src = os.path.join(TESTDATA, name, "model.onnx")
    out = tmp_path / "model.onnx"
    proc = subprocess.run([TOOL, src, str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"roundtrip failed ({proc.returncode}): {proc.stderr.strip()}"

    original = onnx.load(src)
    saved = onnx.load(str(out))

    level = checker_level(original)
    if level:
        got = checker_level(str(out))
        assert got >= level, f"onnx.checker accepts the original (level {level}) but not the copy (level {got})"

    diff = first_difference(canon(original), canon(saved))
    assert diff is None, diff

    try:
        feeds = load_inputs(original, os.path.dirname(src))
        want = run_ort(src, feeds)
        again = run_ort(src, feeds)
    except Exception as e:  # onnxruntime itself cannot run the original
        reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        ORT_UNRUNNABLE[name] = reason
        record_property("ort_unrunnable", reason)
        return
    if not same_outputs(want, again):
        ORT_UNRUNNABLE[name] = "outputs differ between two runs of the original (random op)"
        record_property("ort_unrunnable", ORT_UNRUNNABLE[name])
        return
    got = run_ort(str(out), feeds)
    assert same_outputs(want, got), "onnxruntime outputs of the copy differ from the original's"


# ---- constructed models: the parts of ONNX the test data above does not use ----

def _entry(key, value):
    return onnx.StringStringEntryProto(key=key, value=value)


def _model_with_passthrough():
    """Functions, training info, sparse initializers, quantization annotations, attributes of
    the sparse tensor and type proto kinds, and fields newer than the ONNX 1.12 schema
    (node overload and metadata_props, graph and tensor metadata_props)."""
    from onnx import TensorProto, helper
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sparse_values", TensorProto.FLOAT, [2], [1.5, -2.0]),
        helper.make_tensor("sparse_indices", TensorProto.INT64, [2], [1, 7]), [10])
    fn = helper.make_function("custom.fn", "Twice", ["a"], ["b"],
                              [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 18)])
    node = helper.make_node("Twice", ["X"], ["T"], domain="custom.fn", name="call")
    node.overload = "v2"
    node.metadata_props.append(_entry("origin", "node"))
    marker = helper.make_node("Identity", ["T"], ["Y"], name="id", doc_string="passes T through")
    marker.attribute.append(helper.make_attribute("sp", sparse))
    tp_attr = onnx.AttributeProto(name="tp", type=onnx.AttributeProto.TYPE_PROTO,
                                  tp=helper.make_tensor_type_proto(TensorProto.FLOAT, ["n", 3]))
    marker.attribute.append(tp_attr)
    w = helper.make_tensor("W", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    w.metadata_props.append(_entry("origin", "tensor"))
    graph = helper.make_graph([node, marker], "passthrough",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 3])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 3])],
                              initializer=[w], sparse_initializer=[sparse])
    ann = graph.quantization_annotation.add()
    ann.tensor_name = "T"
    ann.quant_parameter_tensor_names.append(_entry("SCALE_TENSOR", "W"))
    graph.metadata_props.append(_entry("origin", "graph"))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("custom.fn", 1)],
                              functions=[fn], ir_version=10)
    ti = model.training_info.add()
    ti.algorithm.CopyFrom(helper.make_graph([helper.make_node("Neg", ["W"], ["W_new"])], "algo", [],
                                            [helper.make_tensor_value_info("W_new", TensorProto.FLOAT, [3])]))
    ti.update_binding.append(_entry("W", "W_new"))
    return model


def _model_with_types_and_tensors():
    """Tensor, sparse tensor, sequence, map and optional types with symbolic dims and
    denotations; initializers of many dtypes in raw and typed fields, large enough ones going
    to external data; a Loop with a subgraph initializer; metadata and doc strings."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "big_f32"),   # external
        numpy_helper.from_array(rng.integers(-9, 9, (300,)).astype(np.int64), "big_i64"),       # external
        helper.make_tensor("typed_f16", TensorProto.FLOAT16, [3], np.array([1, -2, 0.5], np.float16).view(np.uint16),
                           raw=False),
        helper.make_tensor("typed_bf16", TensorProto.BFLOAT16, [2], [0x3f80, 0xc000]),
        helper.make_tensor("typed_bool", TensorProto.BOOL, [3], [True, False, True]),
        helper.make_tensor("typed_u8", TensorProto.UINT8, [2], [0, 255]),
        helper.make_tensor("typed_i16", TensorProto.INT16, [2], [-32768, 32767]),
        helper.make_tensor("typed_u32", TensorProto.UINT32, [2], [0, 4294967295]),
        helper.make_tensor("typed_u64", TensorProto.UINT64, [1], [18446744073709551615]),
        helper.make_tensor("typed_f64", TensorProto.DOUBLE, [2], [1e300, -0.0]),
        helper.make_tensor("typed_c64", TensorProto.COMPLEX64, [2], [1 + 2j, -3j]),
        helper.make_tensor("typed_str", TensorProto.STRING, [2], [b"a\x00b", b""]),
        helper.make_tensor("typed_f8", TensorProto.FLOAT8E4M3FN, [2], [1.0, -2.0]),
        helper.make_tensor("typed_i4", TensorProto.INT4, [3], [-8, 7, 1]),
        helper.make_tensor("scalar", TensorProto.FLOAT, [], [3.0]),
        helper.make_tensor("empty", TensorProto.FLOAT, [0, 4], []),
    ]
    inits[0].doc_string = "a weight"
    seg = helper.make_tensor("segmented", TensorProto.FLOAT, [2], [1.0, 2.0])
    seg.segment.begin = 0
    seg.segment.end = 2
    inits.append(seg)

    body = helper.make_graph(
        [helper.make_node("Add", ["x_in", "step"], ["x_out"]), helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, [3])],
        initializer=[numpy_helper.from_array(np.arange(600, dtype=np.float32)[:3].copy(), "step"),
                     numpy_helper.from_array(np.arange(600, dtype=np.float32), "sub_big")])
    loop = helper.make_node("Loop", ["trip", "", "x"], ["x_final"], name="loop", body=body)
    const = helper.make_node("Constant", [], ["c"], value=helper.make_tensor("cv", TensorProto.INT64, [2], [1, 2]))
    attrs = helper.make_node("Custom", ["x"], ["u", ""], domain="example", name="all_kinds",
                             f=0.5, i=-3, s=b"bytes\x00here", floats=[1.0, 2.5], ints=[1, 2, 3], strings=[b"a", b"bc"],
                             t=helper.make_tensor("at", TensorProto.FLOAT, [1], [1.0]),
                             tensors=[helper.make_tensor("t1", TensorProto.INT32, [1], [4])],
                             graphs=[helper.make_graph([], "empty_graph", [], [])])
    tensor_t = helper.make_tensor_type_proto(TensorProto.FLOAT, ["batch", None, 3])
    tensor_t.denotation = "TENSOR"
    tensor_t.tensor_type.shape.dim[0].denotation = "DATA_BATCH"
    seq_t = helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.INT64, None))
    map_t = helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, [2]))
    opt_t = helper.make_optional_type_proto(seq_t)
    sparse_t = helper.make_sparse_tensor_type_proto(TensorProto.FLOAT, [10])
    graph = helper.make_graph(
        [loop, const, attrs], "types",
        [helper.make_tensor_value_info("trip", TensorProto.INT64, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [3], doc_string="the input")],
        [helper.make_value_info("x_final", tensor_t), helper.make_value_info("u", seq_t)],
        initializer=inits, doc_string="graph doc",
        value_info=[helper.make_value_info("m", map_t), helper.make_value_info("o", opt_t),
                    helper.make_value_info("sp", sparse_t), helper.make_tensor_value_info("c", TensorProto.INT64, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("example", 3)],
                              producer_name="constructed", producer_version="0.1", domain="org.test", model_version=7,
                              doc_string="model doc", ir_version=10)
    helper.set_model_props(model, {"author": "tests", "license": "none"})
    return model


CONSTRUCTED = {"passthrough": _model_with_passthrough, "types_and_tensors": _model_with_types_and_tensors}


@pytest.mark.parametrize("options", ["", "external_data=always align=64", "external_data=never",
                                     "size_threshold=16 data_file=weights.bin"])
@pytest.mark.parametrize("name", sorted(CONSTRUCTED))
def test_roundtrip_constructed(name, options, tmp_path):
    model = CONSTRUCTED[name]()
    src = tmp_path / "in.onnx"
    onnx.save(model, str(src))
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "model.onnx"
    args = [TOOL, str(src), str(out)] + ([options] if options else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    saved = onnx.load(str(out))
    diff = first_difference(canon(model), canon(saved))
    assert diff is None, diff
    # the saved model carries the same serialized extras (unknown fields included)
    assert saved.functions == model.functions and saved.training_info == model.training_info
    files = sorted(os.listdir(tmp_path / "out"))
    if "never" in options:
        assert files == ["model.onnx"]
    elif name == "types_and_tensors":
        data = "weights.bin" if "weights.bin" in options else "model.onnx.data"
        assert files == sorted(["model.onnx", data])
        stored = onnx.load(str(out), load_external_data=False)
        external = {t.name for t in stored.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL}
        assert {"big_f32", "big_i64"} <= external
        assert "typed_str" not in external
        for t in stored.graph.initializer:
            if t.name in external:
                offset = int({e.key: e.value for e in t.external_data}.get("offset", "0"))
                assert offset % (64 if "align=64" in options else 4096 if not options else 1) == 0
        assert checker_level(str(out)) >= checker_level(model)
