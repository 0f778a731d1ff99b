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
