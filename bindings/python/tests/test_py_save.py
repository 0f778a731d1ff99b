"""Model.save: options, external data, atomicity; outputs checked with onnx and onnxruntime."""

import os

import pytest

from olive_py_support import (assert_same_outputs, check_model_file, mlp_feeds, mlp_model, onnx,
                              require_libolive, tree, wide_feeds, wide_model, write)

libolive = require_libolive()


@pytest.fixture
def wide(tmp_path):
    return write(wide_model(), tmp_path / "src")


def _saved(model, folder, *args, **kwargs):
    path = os.path.join(str(folder), "model.onnx")
    os.makedirs(str(folder), exist_ok=True)
    model.save(path, *args, **kwargs)
    return path


def test_external_data_always_writes_data_file(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        path = _saved(m, tmp_path / "out", external_data="always")
    assert tree(tmp_path / "out") == ["model.onnx", "model.onnx.data"]
    check_model_file(path)
    assert_same_outputs(wide, path, wide_feeds())
    # The weights really live in the data file.
    proto = onnx.load(path, load_external_data=False)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)


def test_external_data_never_embeds(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        path = _saved(m, tmp_path / "out", "external_data=never")
    assert tree(tmp_path / "out") == ["model.onnx"]
    check_model_file(path)
    assert_same_outputs(wide, path, wide_feeds())


def test_auto_respects_size_threshold(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        small = _saved(m, tmp_path / "small", size_threshold=1024)
        big = _saved(m, tmp_path / "big", size_threshold=10 ** 9)
    # 64*64 floats = 16 KiB goes out at threshold 1024; nothing goes out at 1 GB.
    assert "model.onnx.data" in tree(tmp_path / "small")
    assert tree(tmp_path / "big") == ["model.onnx"]
    for path in (small, big):
        check_model_file(path)
        assert_same_outputs(wide, path, wide_feeds())


def test_data_file_name_and_alignment(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        path = _saved(m, tmp_path / "out", "external_data=always", data_file="weights.bin", align=64)
    assert tree(tmp_path / "out") == ["model.onnx", "weights.bin"]
    proto = onnx.load(path, load_external_data=False)
    for t in proto.graph.initializer:
        info = {e.key: e.value for e in t.external_data}
        assert info["location"] == "weights.bin"
        assert int(info.get("offset", "0")) % 64 == 0
    check_model_file(path)
    assert_same_outputs(wide, path, wide_feeds())


def test_resave_of_external_data_model(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        first = _saved(m, tmp_path / "one", external_data="always")
    with libolive.Model.load(first) as m:
        second = _saved(m, tmp_path / "two", external_data="never")
    assert tree(tmp_path / "two") == ["model.onnx"]
    assert_same_outputs(wide, second, wide_feeds())


def test_mlp_roundtrip(tmp_path):
    src = write(mlp_model(), tmp_path / "src")
    with libolive.Model.load(src) as m:
        path = _saved(m, tmp_path / "out")
    check_model_file(path)
    assert_same_outputs(src, path, mlp_feeds())


def test_bad_option_names_the_key(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        with pytest.raises((libolive.InvalidArgument, libolive.NotFound)) as info:
            _saved(m, tmp_path / "out", bogus_option=1)
        assert "bogus_option" in info.value.message
        with pytest.raises(libolive.InvalidArgument) as info:
            _saved(m, tmp_path / "out2", external_data="sometimes")
        assert "external_data" in info.value.message
    assert tree(tmp_path / "out") == [] and tree(tmp_path / "out2") == []


def test_saving_over_the_source_is_refused(wide):
    before = open(wide, "rb").read()
    with libolive.Model.load(wide) as m:
        with pytest.raises(libolive.InvalidArgument):
            m.save(wide)
    assert open(wide, "rb").read() == before


def test_missing_folder_fails_cleanly(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        with pytest.raises(libolive.OliveError):
            m.save(tmp_path / "no" / "such" / "model.onnx")
    assert not (tmp_path / "no").exists()


def test_whitespace_in_option_value_is_refused(wide, tmp_path):
    with libolive.Model.load(wide) as m:
        with pytest.raises(ValueError, match="white space"):
            m.save(tmp_path / "m.onnx", data_file="a b.bin")
