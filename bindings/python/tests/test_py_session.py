"""Tensor, Session and runtime_info from Python: zero-copy in both directions, lifetimes tied to
the numpy arrays, dtypes, and sessions that match onnxruntime (skipped without numpy/onnx/
onnxruntime, or when libolive cannot find ONNX Runtime)."""

import gc
import weakref

import pytest

from olive_py_support import require_libolive

libolive = require_libolive()
np = pytest.importorskip("numpy")


def test_tensor_from_numpy_borrows_the_array():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = libolive.Tensor.from_numpy(a)
    assert t.dtype == "float32" and t.shape == (3, 4) and t.nbytes == 48
    assert t._data_address() == a.ctypes.data  # no copy
    view = t.numpy()
    assert np.shares_memory(view, a)
    a[0, 0] = 42
    assert view[0, 0] == 42
    # The tensor keeps the array alive even when the caller drops it.
    del a, view
    gc.collect()
    np.testing.assert_array_equal(t.numpy().ravel()[1:], np.arange(1, 12, dtype=np.float32))
    t.close()
    t.close()  # closing twice does nothing


def test_non_contiguous_and_scalar_arrays():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)[:, ::2]
    t = libolive.Tensor.from_numpy(a)
    assert t.shape == (3, 2)
    np.testing.assert_array_equal(t.numpy(), a)  # a contiguous copy, same values
    s = libolive.Tensor.from_numpy(np.array(7, dtype=np.int32))
    assert s.shape == () and s.numpy() == 7


def test_dtypes():
    for name in ("float32", "float16", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                 "int64", "uint64", "bool"):
        a = np.zeros((2,), dtype=name)
        t = libolive.Tensor.from_numpy(a)
        assert t.numpy().dtype == a.dtype
    b = libolive.Tensor.from_numpy(np.array([0x3F80], dtype=np.uint16), dtype="bfloat16")
    assert b.dtype == "bfloat16" and b.numpy().dtype == np.uint16
    with pytest.raises(TypeError, match="not one libolive tensors hold"):
        libolive.Tensor.from_numpy(np.zeros(2, dtype=np.complex64))
    with pytest.raises(TypeError, match="bfloat16 tensors are made from uint16"):
        libolive.Tensor.from_numpy(np.zeros(2, dtype=np.float32), dtype="bfloat16")


def test_owned_tensor_lives_as_long_as_its_arrays():
    t = libolive.Tensor.zeros("int32", (2, 3))
    assert t.nbytes == 24
    alive = weakref.ref(t)
    view = t.numpy()
    view[1, 2] = 5
    del t
    gc.collect()
    assert alive() is not None  # the array holds the tensor
    assert view[1, 2] == 5 and view.sum() == 5
    del view
    gc.collect()
    assert alive() is None  # and releases it with the last array


def _add_model(path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Mul", ["x", "y"], ["z"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"]),
                           helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n"])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


@pytest.fixture(scope="module")
def have_ort():
    info = libolive.runtime_info()["onnxruntime"]
    if not info["found"]:
        pytest.skip(info["error"])
    return info


def test_session_matches_onnxruntime(tmp_path, have_ort):
    ort = pytest.importorskip("onnxruntime")
    path = _add_model(tmp_path / "mul.onnx")
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    y = np.full(7, 3, np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x, "y": y})[0]
    with libolive.Model.load(path) as model, libolive.Session(model) as s:
        assert s.inputs == [{"name": "x", "dtype": "float32", "shape": ["n"]},
                            {"name": "y", "dtype": "float32", "shape": ["n"]}]
        assert s.provider == "CPUExecutionProvider"
        got = s.run({"x": x, "y": libolive.Tensor.from_numpy(y)})
        np.testing.assert_array_equal(got["z"], want)
        assert list(s.run({"x": x, "y": y}, output_names=["z"])) == ["z"]
    with pytest.raises(ValueError, match="closed"):
        s.run({"x": x, "y": y})
    assert have_ort["version"] == ort.__version__
