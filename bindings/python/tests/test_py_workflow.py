"""Workflow: Olive-schema configs run from Python, the cache seen through the run summary, the
auto-opt rules as a config dict; outputs checked with onnx's checker and onnxruntime."""

import json

import pytest

from olive_py_support import (assert_same_outputs, check_model_file, mlp_feeds, mlp_model,
                              require_libolive, write)

libolive = require_libolive()


@pytest.fixture
def src(tmp_path):
    return write(mlp_model(), tmp_path / "src")


def config(src, tmp_path, passes):
    return {"input_model": {"type": "ONNXModel", "model_path": str(src)}, "passes": passes,
            "output_dir": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache")}


def test_run_twice_hits_the_cache(src, tmp_path):
    cfg = config(src, tmp_path, {"p": {"type": "OnnxPeepholeOptimizer"}})
    events = []
    with libolive.Workflow(cfg) as w:
        assert w.pipeline_text == "peephole"
        w.on_progress(lambda *a: events.append(a[0]))
        first = w.run()
        second = w.run()
    assert [s["cache"] for s in first["steps"]] == ["run"]
    assert [s["cache"] for s in second["steps"]] == ["hit"]
    assert libolive.ProgressEvent.PASS_FINISHED in events and events[-1] == libolive.ProgressEvent.DONE
    out = tmp_path / "out" / "model.onnx"
    check_model_file(out)
    assert_same_outputs(src, out, mlp_feeds())


def test_summary_names_the_best_candidate(src, tmp_path):
    """Candidates are numbered from 0 and named by their passes; "best" indexes them (the CLI
    prints the same number and name)."""
    cfg = config(src, tmp_path, {"p": [{"type": "OnnxPeepholeOptimizer"}, {"type": "OnnxFloatToFloat16"}]})
    cfg["evaluator"] = {"metrics": [{"name": "size", "type": "size_on_disk"}]}
    with libolive.Workflow(cfg) as w:
        summary = w.run()
    cands = summary["candidates"]
    assert [(c["index"], c["name"]) for c in cands] == [(0, "peephole"), (1, "float16")]
    assert summary["best"] == 1 and cands[1]["size_on_disk"] < cands[0]["size_on_disk"]


def test_load_from_file_and_errors(src, tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config(src, tmp_path, {"p": {"type": "NoSuchPass"}})))
    with pytest.raises(libolive.NotFound, match="NoSuchPass"):
        libolive.Workflow.load(path)
    path.write_text("{\n  \"passes\": [}\n")
    with pytest.raises(libolive.FormatError, match=r"cfg.json:2:"):
        libolive.Workflow.load(path)
    with pytest.raises(libolive.InvalidArgument, match="unknown key"):
        libolive.Workflow(dict(config(src, tmp_path, {}), extra=1), strict=True)


def test_callback_error_cancels(src, tmp_path):
    def boom(*args):
        raise KeyError("stop")

    with libolive.Workflow(config(src, tmp_path, {"p": {"type": "OnnxPeepholeOptimizer"}})) as w:
        w.on_progress(boom)
        with pytest.raises(KeyError):
            w.run()
    assert not (tmp_path / "out").exists()


def test_auto_opt_config(src):
    cfg = libolive.auto_opt_config("auto-opt", model_name_or_path=str(src), precision="int4", block_size=32)
    assert cfg["input_model"] == {"type": "ONNXModel", "model_path": str(src)}
    assert cfg["passes"]["quantization"] == {"type": "OnnxBlockWiseRtnQuantization", "block_size": 32}
    with pytest.raises(libolive.InvalidArgument, match="precision"):
        libolive.auto_opt_config("auto-opt", model_name_or_path=str(src), precision="int3")


def test_auto_opt_and_quantize(src, tmp_path):
    summary = libolive.auto_opt(str(src), str(tmp_path / "ao"), precision="fp16", cache_dir=str(tmp_path / "cache"))
    assert summary["output_dir"] == str(tmp_path / "ao")
    assert [s["pass"] for s in summary["steps"]][-1] == "float16"
    check_model_file(tmp_path / "ao" / "model.onnx")
    assert_same_outputs(src, tmp_path / "ao" / "model.onnx", mlp_feeds(), rtol=1e-2, atol=1e-2)
    summary = libolive.quantize(str(src), str(tmp_path / "q"), algorithm="rtn", block_size=16,
                                cache_dir=str(tmp_path / "cache"))
    assert [s["pass"] for s in summary["steps"]] == ["quantize"]
    check_model_file(tmp_path / "q" / "model.onnx")
