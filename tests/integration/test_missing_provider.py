"""A workflow whose target execution provider the loaded ONNX Runtime lacks (DirectML here, which
the test onnxruntime does not have): the passes still run and the model is written, olive warns
once naming the provider, the library and the providers it has, and the metrics that need a
session on the provider are recorded as not measured (no value) in metrics.json, footprint.json
and run_history.txt. A workflow that chooses its result by those metrics (a search, ranked
metrics over alternatives) is refused before anything is read or written.
"""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

CLI = os.environ.get("OLIVE_CLI")
pytestmark = [
    pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)"),
    pytest.mark.skipif("DmlExecutionProvider" in ort.get_available_providers(),
                       reason="this onnxruntime has DmlExecutionProvider"),
]

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
EV = DATA / "evaluate"
PROVIDER = "DmlExecutionProvider"


def olive(*args, cwd):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def config(passes, **engine):
    data = {"name": "cls", "type": "HuggingfaceContainer",
            "load_dataset_config": {"data_name": "json", "data_files": str(EV / "classify.jsonl"), "split": "train"},
            "pre_process_data_config": {"model_name": str(EV / "wp_tokenizer"), "input_cols": ["sentence"],
                                        "label_col": "label"},
            "post_process_data_config": {"type": "text_classification_post_process", "output_name": "logits"},
            "dataloader_config": {"batch_size": 8}}
    return {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert_encoder" / "bert_seqcls")},
            "systems": {"target": {"type": "LocalSystem",
                                   "accelerators": [{"device": "gpu", "execution_providers": [PROVIDER]}]}},
            "data_configs": [data],
            "evaluators": {"common": {"metrics": [
                {"name": "accuracy", "type": "accuracy", "data_config": "cls",
                 "sub_types": [{"name": "accuracy_score", "priority": 1, "goal": {"type": "threshold", "value": 0.0},
                                "metric_config": {"task": "multiclass", "num_classes": 3}}]},
                {"name": "latency", "type": "latency", "data_config": "cls",
                 "sub_types": [{"name": "avg", "priority": 2, "metric_config": {"warmup_num": 1, "repeat_test_num": 2}}]},
                {"name": "size", "type": "size_on_disk"}]}},
            "passes": passes,
            "engine": {"evaluator": "common", "target": "target", "output_dir": "out", "cache_dir": "cache", **engine}}


def ort_library_dir():
    return str(pathlib.Path(ort.__file__).resolve().parent)


def assert_names_provider(text):
    assert f"execution provider {PROVIDER} is not available in ONNX Runtime {ort.__version__}" in text, text
    assert ort_library_dir() in text, text  # the library that was loaded
    assert "it has: " + ", ".join(ort.get_available_providers()) in text, text


def test_missing_provider_writes_the_model_and_measures_nothing_on_it(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config({"conversion": {"type": "ModelBuilder",
                                                                             "precision": "fp32"}})))
    r = olive("run", "--config", "config.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if PROVIDER in line]
    assert len(warnings) == 1, r.stderr  # checked once, not once per metric
    assert_names_provider(warnings[0])
    out = tmp_path / "out"
    # The model is written, and runs (on the CPU here).
    s = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.ones((1, 8), np.int64) for i in s.get_inputs()}
    assert np.isfinite(s.run(["logits"], feeds)[0]).all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"accuracy-accuracy_score", "latency-avg", "size-size_on_disk"}
    for key in ("accuracy-accuracy_score", "latency-avg"):
        assert metrics[key]["value"] is None and metrics[key]["measured"] is False, metrics[key]
        assert_names_provider(metrics[key]["reason"])
    assert metrics["accuracy-accuracy_score"]["priority"] == 1
    assert metrics["latency-avg"]["higher_is_better"] is False
    # size_on_disk needs no session: it is measured (the model's files, at least the graph's).
    size = sum(f.stat().st_size for f in out.iterdir() if f.name.startswith("model.onnx"))
    assert metrics["size-size_on_disk"]["value"] >= size and "measured" not in metrics["size-size_on_disk"]
    fp = json.loads((out / "footprint.json").read_text())
    node = [n for n in fp.values() if n["pass"]][0]
    assert node["metrics"]["value"] == metrics
    assert node["metrics"]["if_goals_met"] is None  # the accuracy goal was neither met nor missed
    history = (out / "run_history.txt").read_text()
    assert "accuracy-accuracy_score=not-measured" in history and "latency-avg=not-measured" in history
    table = [line for line in r.stdout.splitlines() if line.startswith(("accuracy-", "latency-"))]
    assert len(table) == 2 and all(line.endswith("not measured") for line in table), r.stdout


def test_missing_provider_refuses_a_search_before_any_work(tmp_path):
    passes = {"conversion": {"type": "ModelBuilder", "precision": "fp32"},
              "quantize": {"type": "OnnxDynamicQuantization",
                           "per_channel": {"olive_parameter_type": "SearchParameter", "type": "Categorical",
                                           "support": [True, False]}}}
    cfg = config(passes, search_strategy={"execution_order": "joint", "sampler": "sequential"})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = olive("run", "--config", "config.json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("olive: error: ")]
    assert len(errors) == 1, r.stderr
    assert_names_provider(errors[0])
    assert "a search" in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no cache, no output


def test_missing_provider_refuses_ranked_alternatives_but_not_unranked_ones(tmp_path):
    passes = {"conversion": [{"type": "ModelBuilder", "precision": "fp32"},
                             {"type": "ModelBuilder", "precision": "fp16"}]}
    (tmp_path / "config.json").write_text(json.dumps(config(passes)))
    r = olive("run", "--config", "config.json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert_names_provider(r.stderr)
    assert "ranked metrics over several candidate pipelines" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    # Without priorities the first candidate is the result, so the metrics decide nothing.
    cfg = config(passes)
    for m in cfg["evaluators"]["common"]["metrics"]:
        for st in m.get("sub_types", []):
            st.pop("priority", None)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = olive("run", "--config", "config.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["accuracy-accuracy_score"]["value"] is None
