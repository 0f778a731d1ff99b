"""Output folders through the binding (Engine.run and Workflow.run): a link at the output path
is refused and nothing behind it changes, an output that holds or sits inside the input is
refused, the files a user put in an earlier output survive the next run, and a cache folder
inside a model folder given as input is refused."""

import os

import pytest

from olive_py_support import (assert_same_outputs, check_model_file, mlp_feeds, mlp_model,
                              require_libolive, write)

libolive = require_libolive()


def snapshot(folder):
    out = {}
    for root, dirs, files in os.walk(str(folder)):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, str(folder))
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out[rel] = ("file", f.read())
            else:
                out[rel] = ("dir",)
    return out


@pytest.fixture
def src(tmp_path):
    return write(mlp_model(), tmp_path / "in")


def engine_run(src, out, overwrite=True):
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.set_options(overwrite=overwrite)
        engine.run(m, out).close()


def workflow_run(model_path, out, cache):
    cfg = {"input_model": {"type": "ONNXModel", "model_path": str(model_path)},
           "passes": {"p": {"type": "OnnxPeepholeOptimizer"}},
           "output_dir": str(out), "cache_dir": str(cache)}
    with libolive.Workflow(cfg) as w:
        return w.run()


RUNNERS = {
    "engine": lambda model, out, tmp: engine_run(model, out),
    "workflow": lambda model, out, tmp: workflow_run(model, out, tmp / "cache"),
}


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_output_link_is_refused(src, tmp_path, runner):
    run = RUNNERS[runner]
    run(src, tmp_path / "earlier", tmp_path)
    (tmp_path / "earlier" / "notes.txt").write_text("mine")
    before = snapshot(tmp_path / "earlier")
    os.symlink("earlier", tmp_path / "out")
    with pytest.raises(libolive.InvalidArgument, match="symbolic link"):
        run(src, tmp_path / "out", tmp_path)
    assert snapshot(tmp_path / "earlier") == before


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_output_overlapping_the_input_is_refused(src, tmp_path, runner):
    run = RUNNERS[runner]
    before = snapshot(tmp_path / "in")
    with pytest.raises(libolive.InvalidArgument, match="contains the input model"):
        run(src, tmp_path / "in", tmp_path)
    assert snapshot(tmp_path / "in") == before
    run(src, tmp_path / "out", tmp_path)
    before = snapshot(tmp_path / "out")
    with pytest.raises(libolive.InvalidArgument, match="contains the input model"):
        run(tmp_path / "out" / "model.onnx", tmp_path / "out", tmp_path)
    assert snapshot(tmp_path / "out") == before
    # A subfolder of the folder that holds the input file is fine.
    run(src, tmp_path / "in" / "optimized", tmp_path)
    assert_same_outputs(src, tmp_path / "in" / "optimized" / "model.onnx", mlp_feeds())


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_user_files_survive(src, tmp_path, runner):
    run = RUNNERS[runner]
    run(src, tmp_path / "out", tmp_path)
    (tmp_path / "out" / "notes.txt").write_text("mine")
    (tmp_path / "out" / "extra").mkdir()
    (tmp_path / "out" / "extra" / "a.bin").write_bytes(b"\x00\x01")
    run(src, tmp_path / "out", tmp_path)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "out" / "extra" / "a.bin").read_bytes() == b"\x00\x01"
    check_model_file(tmp_path / "out" / "model.onnx")


def test_workflow_model_folder_keeps_outputs_and_cache_outside(src, tmp_path):
    folder = tmp_path / "in"
    before = snapshot(folder)
    with pytest.raises(libolive.InvalidArgument, match="inside the input model"):
        workflow_run(folder, folder / "optimized", tmp_path / "cache")
    with pytest.raises(libolive.InvalidArgument, match="cache_dir"):
        workflow_run(folder, tmp_path / "out", folder / "cache")
    assert snapshot(folder) == before
    workflow_run(folder, tmp_path / "out", tmp_path / "cache")
    assert_same_outputs(src, tmp_path / "out" / "model.onnx", mlp_feeds())
