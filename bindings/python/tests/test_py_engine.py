"""Engine: pipelines, options, runs with progress, cancellation and callback errors; outputs
checked with onnx's checker and onnxruntime against the input model."""

import os
import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from olive_py_support import (assert_same_outputs, check_model_file, mlp_feeds, mlp_model,
                              require_libolive, tree, wide_feeds, wide_model, write)

libolive = require_libolive()
Event = libolive.ProgressEvent


@pytest.fixture
def src(tmp_path):
    return write(mlp_model(), tmp_path / "src")


def test_peephole_run_with_progress(src, tmp_path):
    out_dir = tmp_path / "out"
    events = []
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        assert len(engine) == 1
        engine.on_progress(lambda *args: events.append(args))
        with engine.run(m, out_dir) as result:
            assert result.node_count <= m.node_count
    saved = out_dir / "model.onnx"
    check_model_file(saved)
    assert_same_outputs(src, saved, mlp_feeds())

    kinds = [e[0] for e in events]
    assert all(isinstance(k, Event) for k in kinds)
    assert kinds[0] == Event.PASS_STARTED and kinds[-1] == Event.DONE
    assert kinds.count(Event.DONE) == 1
    started = [e for e in events if e[0] == Event.PASS_STARTED]
    finished = [e for e in events if e[0] == Event.PASS_FINISHED]
    assert [(e[1], e[2], e[3]) for e in started] == [("peephole", 0, 1)]
    assert [(e[1], e[2], e[3]) for e in finished] == [("peephole", 0, 1)]
    assert kinds.index(Event.PASS_FINISHED) < kinds.index(Event.SAVING) < kinds.index(Event.DONE)
    fractions = [e[4] for e in events]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    written = [e[5] for e in events]
    assert written == sorted(written)
    assert written[-1] > 0


def test_bytes_written_counts_the_weights_written(src, tmp_path):
    events = []
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.on_progress(lambda *args: events.append(args))
        engine.run(m, tmp_path / "out").close()
    assert events[-1][0] == Event.DONE
    saved = onnx.load(str(tmp_path / "out" / "model.onnx"))
    weight_bytes = sum(numpy_helper.to_array(t).nbytes for t in saved.graph.initializer)
    assert weight_bytes > 0
    assert events[-1][5] == weight_bytes


def many_weights_model(count=3000, width=16):
    """A chain of `count` Adds, each with its own 1 KiB weight: the writer reports every one."""
    rng = np.random.default_rng(3)
    nodes, inits, prev = [], [], "x"
    for i in range(count):
        inits.append(numpy_helper.from_array(rng.standard_normal((width, width)).astype(np.float32), "w%d" % i))
        nodes.append(helper.make_node("Add", [prev, "w%d" % i], ["h%d" % i]))
        prev = "h%d" % i
    graph = helper.make_graph(nodes, "many", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [width, width])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [width, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_save_events_are_throttled(tmp_path):
    """The writer reports each of 3000 tensors; the callback gets the first and the last save
    event and, between them, at most one per 0.1 s of the save (include/olive/engine.h)."""
    path = write(many_weights_model(), tmp_path / "src")
    events = []
    with libolive.Model.load(path) as m, libolive.Engine() as engine:
        engine.set_options("save=size_threshold=64")
        engine.on_progress(lambda *args: events.append((time.monotonic(),) + args))
        engine.run(m, tmp_path / "out").close()
    saving = [e for e in events if e[1] == Event.SAVING]
    assert saving[0][6] == 0
    data = tmp_path / "out" / "model.onnx.data"
    saved = onnx.load(str(tmp_path / "out" / "model.onnx"))
    weight_bytes = sum(numpy_helper.to_array(t).nbytes for t in saved.graph.initializer)
    assert weight_bytes == 3000 * 16 * 16 * 4 and data.stat().st_size >= weight_bytes
    assert saving[-1][6] == weight_bytes and saving[-1][5] == pytest.approx(1.0)
    span = saving[-1][0] - saving[0][0]
    assert len(saving) <= 2 + int(span / 0.1) + 1, (len(saving), span)
    assert [e[6] for e in saving] == sorted(e[6] for e in saving)


def test_run_without_output_folder(src, tmp_path):
    events = []
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pass("peephole")
        engine.on_progress(lambda *args: events.append(args))
        result = engine.run(m)
    before = set(os.listdir(str(tmp_path)))
    with result:
        (tmp_path / "later").mkdir()
        result.save(tmp_path / "later" / "model.onnx")
    assert before == {"src"}
    assert Event.SAVING not in [e[0] for e in events]
    assert events[-1][0] == Event.DONE and events[-1][5] == 0
    assert_same_outputs(src, tmp_path / "later" / "model.onnx", mlp_feeds())


def test_empty_pipeline_copies_the_model(src, tmp_path):
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        assert len(engine) == 0
        engine.run(m, tmp_path / "out").close()
    check_model_file(tmp_path / "out" / "model.onnx")
    assert_same_outputs(src, tmp_path / "out" / "model.onnx", mlp_feeds())


@pytest.mark.parametrize("when", [Event.PASS_STARTED, Event.PASS_FINISHED, Event.SAVING])
def test_cancel_from_callback_leaves_nothing(src, tmp_path, when):
    out_dir = tmp_path / "out"
    seen = []

    def progress(event, *rest):
        seen.append(event)
        return event == when

    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.on_progress(progress)
        with pytest.raises(libolive.Cancelled) as info:
            engine.run(m, out_dir)
        assert info.value.code == -7
        assert when in seen and Event.DONE not in seen
        # The engine stays usable after a cancelled run.
        engine.on_progress(None)
        engine.run(m, tmp_path / "again").close()
    assert not out_dir.exists()
    assert sorted(os.listdir(str(tmp_path))) == ["again", "src"]


def test_cancel_at_done_is_all_or_nothing(src, tmp_path):
    out_dir = tmp_path / "out"
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.on_progress(lambda event, *rest: event == Event.DONE)
        try:
            engine.run(m, out_dir).close()
        except libolive.Cancelled:
            assert not out_dir.exists(), "run reported Cancelled but left its output"
        else:
            check_model_file(out_dir / "model.onnx")


def test_cancel_method_from_callback(src, tmp_path):
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.on_progress(lambda event, *rest: engine.cancel() if event == Event.PASS_STARTED else None)
        with pytest.raises(libolive.Cancelled):
            engine.run(m, tmp_path / "out")
    assert sorted(os.listdir(str(tmp_path))) == ["src"]


def test_callback_exception_cancels_and_is_reraised(src, tmp_path):
    calls = []

    def progress(event, *rest):
        calls.append(event)
        if event == Event.PASS_FINISHED:
            raise ZeroDivisionError("from the callback")

    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.on_progress(progress)
        with pytest.raises(ZeroDivisionError, match="from the callback"):
            engine.run(m, tmp_path / "out")
        # No further calls after the exception.
        assert calls[-1] == Event.PASS_FINISHED
        engine.on_progress(None)
        engine.run(m, tmp_path / "again").close()
    assert sorted(os.listdir(str(tmp_path))) == ["again", "src"]


def test_keyboard_interrupt_in_callback(src, tmp_path):
    def progress(event, *rest):
        raise KeyboardInterrupt

    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.on_progress(progress)
        with pytest.raises(KeyboardInterrupt):
            engine.run(m, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cancel_from_another_thread(tmp_path):
    src = write(wide_model(width=512), tmp_path / "src")
    started = threading.Event()
    release = threading.Event()

    def progress(event, *rest):
        if event == Event.PASS_STARTED:
            started.set()
            release.wait(10)  # hold the run until the other thread has cancelled

    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.on_progress(progress)

        def canceller():
            started.wait(10)
            engine.cancel()
            release.set()

        t = threading.Thread(target=canceller)
        t.start()
        with pytest.raises(libolive.Cancelled):
            engine.run(m, tmp_path / "out")
        t.join()
    assert not (tmp_path / "out").exists()


def test_existing_output_folder(src, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine")
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        with pytest.raises(libolive.Exists) as info:
            engine.run(m, out_dir)
        assert isinstance(info.value, FileExistsError)
        assert (out_dir / "keep.txt").read_text() == "mine"
        engine.set_options(overwrite=True)
        engine.run(m, out_dir).close()
    assert "model.onnx" in tree(out_dir)
    assert_same_outputs(src, out_dir / "model.onnx", mlp_feeds())


def test_empty_existing_output_folder_is_fine(src, tmp_path):
    (tmp_path / "out").mkdir()
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.run(m, tmp_path / "out").close()
    check_model_file(tmp_path / "out" / "model.onnx")


def test_model_name_and_save_options(tmp_path):
    src = write(wide_model(), tmp_path / "src")
    with libolive.Model.load(src) as m, libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        engine.set_options(model_name="net.onnx", save={"external_data": "always"})
        engine.run(m, tmp_path / "a").close()
        engine.set_options(save="external_data=never")
        engine.run(m, tmp_path / "b").close()
    # .libolive-output: the manifest of what libolive wrote there
    assert tree(tmp_path / "a") == [".libolive-output", "net.onnx", "net.onnx.data"]
    assert tree(tmp_path / "b") == [".libolive-output", "net.onnx"]
    for folder in ("a", "b"):
        check_model_file(tmp_path / folder / "net.onnx")
        assert_same_outputs(src, tmp_path / folder / "net.onnx", wide_feeds())


def test_bad_options():
    with libolive.Engine() as engine:
        with pytest.raises(libolive.NotFound) as info:
            engine.set_options("no_such_option=1")
        assert "no_such_option" in info.value.message
        with pytest.raises(libolive.InvalidArgument) as info:
            engine.set_options(overwrite="perhaps")
        assert "overwrite" in info.value.message


def test_pipeline_text_round_trip():
    with libolive.Engine() as a, libolive.Engine() as b:
        a.add_pipeline("peephole ! peephole")
        a.add_pass(libolive.Pass("peephole"))
        assert len(a) == 3
        text = a.pipeline_text
        assert text.count("peephole") == 3
        b.add_pipeline(text)
        assert b.pipeline_text == text
        assert [p.name for p in b.passes] == ["peephole"] * 3


def test_pipeline_errors_leave_it_unchanged():
    with libolive.Engine() as engine:
        engine.add_pipeline("peephole")
        text = engine.pipeline_text
        with pytest.raises(libolive.NotFound) as info:
            engine.add_pipeline("peephole ! no_such_pass")
        assert "no_such_pass" in info.value.message
        with pytest.raises(libolive.NotFound) as info:
            engine.add_pipeline("peephole no_such_key=1")
        assert "no_such_key" in info.value.message
        with pytest.raises(libolive.InvalidArgument):
            engine.add_pipeline("peephole ! ! peephole")
        assert len(engine) == 1 and engine.pipeline_text == text


def test_pass_parameters_survive_into_the_pipeline():
    bools = [(p["name"], p) for p in libolive.describe_pass("peephole")["parameters"]
             if p["type"] == "bool"]
    if not bools:
        pytest.skip("peephole has no bool parameter")
    key, param = bools[0]
    value = "false" if param["default"] == "true" else "true"
    with libolive.Engine() as engine:
        with libolive.Pass("peephole", **{key: value == "true"}) as p:
            engine.add_pass(p)
        # The engine holds its own reference: the closed Pass wrapper does not matter.
        (held,) = engine.passes
        assert held.get(key) == value
        assert "%s=%s" % (key, value) in engine.pipeline_text


def test_borrowed_pass_dies_with_engine():
    engine = libolive.Engine()
    engine.add_pipeline("peephole")
    (held,) = engine.passes
    engine.close()
    with pytest.raises(ValueError, match="closed"):
        held.get("anything")


def test_accelerator_may_be_closed_first(src, tmp_path):
    acc = libolive.Accelerator("cpu")
    engine = libolive.Engine(acc)
    acc.close()
    engine.add_pipeline("peephole")
    with libolive.Model.load(src) as m:
        engine.run(m, tmp_path / "out").close()
    engine.close()
    check_model_file(tmp_path / "out" / "model.onnx")


def test_run_needs_a_model():
    with libolive.Engine() as engine:
        with pytest.raises(TypeError):
            engine.run("model.onnx")


def test_engine_for_device_name():
    with libolive.Engine("cpu") as engine:
        assert len(engine) == 0
    with pytest.raises(libolive.InvalidArgument):
        libolive.Engine("toaster")
