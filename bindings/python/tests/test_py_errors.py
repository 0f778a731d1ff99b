"""Errors: each status code maps to its exception, carrying the library's code name and message."""

import pickle

import pytest

from olive_py_support import require_libolive

libolive = require_libolive()


def test_missing_file_is_not_found_with_path(tmp_path):
    missing = tmp_path / "no" / "such.onnx"
    with pytest.raises(libolive.NotFound) as info:
        libolive.Model.load(missing)
    e = info.value
    assert e.code == -2
    assert e.code_name == libolive.strerror(-2) == "not found"
    assert str(missing) in e.message
    assert str(missing) in str(e)
    assert isinstance(e, LookupError) and isinstance(e, libolive.OliveError)


def test_garbage_file_is_format_error(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\xff\xfe this is not a protobuf \x00\x01\x02" * 10)
    with pytest.raises(libolive.FormatError) as info:
        libolive.Model.load(path)
    assert info.value.code == -3
    assert info.value.message


def test_truncated_model_is_format_error(tmp_path):
    from olive_py_support import mlp_model
    data = mlp_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(libolive.FormatError):
        libolive.Model.load(path)


def test_empty_file_is_format_error(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(libolive.FormatError):
        libolive.Model.load(path)


def test_embedded_nul_is_refused_before_c(tmp_path):
    with pytest.raises(ValueError, match="NUL"):
        libolive.Model.load(str(tmp_path / "a.onnx") + "\0.txt")


@pytest.mark.parametrize("code,cls,builtin", [
    (-1, "InvalidArgument", ValueError),
    (-2, "NotFound", LookupError),
    (-3, "FormatError", ValueError),
    (-4, "Unsupported", NotImplementedError),
    (-5, "OliveIOError", OSError),
    (-6, "OutOfMemory", MemoryError),
    (-7, "Cancelled", None),
    (-8, "Exists", FileExistsError),
    (-9, "InternalError", None),
])
def test_code_to_class(code, cls, builtin):
    from libolive.errors import error_for
    e = error_for(code)
    assert type(e).__name__ == cls
    assert e.code == code
    assert e.code_name == libolive.strerror(code)
    assert e.code_name != "unknown error"
    if builtin is not None:
        assert isinstance(e, builtin)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is type(e) and again.code == code and again.message == e.message


def test_unknown_code_is_base_class():
    from libolive.errors import error_for
    e = error_for(-1000)
    assert type(e) is libolive.OliveError
    assert e.code_name == "unknown error"


def test_message_is_the_failing_calls(tmp_path):
    # Two failures in a row: each exception keeps its own message.
    with pytest.raises(libolive.NotFound) as first:
        libolive.Model.load(tmp_path / "a.onnx")
    with pytest.raises(libolive.NotFound) as second:
        libolive.Model.load(tmp_path / "b.onnx")
    assert "a.onnx" in first.value.message and "b.onnx" in second.value.message
