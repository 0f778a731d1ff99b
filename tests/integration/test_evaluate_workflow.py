"""Evaluators in workflows (`olive run --config`): a BERT classifier with latency and accuracy
metrics, and a decoder folder with perplexity, write Olive's metric files (metrics.json,
input_model_metrics.json, metrics in footprint.json nodes, a metrics column in
run_history.txt) and print them as a table. Values are checked against references from the
real thing: accuracy against numpy on onnxruntime's outputs, perplexity against transformers'
(tests/data/evaluate/ppl_refs.json).
"""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
EV = DATA / "evaluate"
REFS = json.loads((EV / "data_refs.json").read_text())
PPL = json.loads((EV / "ppl_refs.json").read_text())


def olive(*args, cwd):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def cls_data():
    return {"name": "cls", "type": "HuggingfaceContainer",
            "load_dataset_config": {"data_name": "json", "data_files": str(EV / "classify.jsonl"), "split": "train"},
            "pre_process_data_config": {"model_name": str(EV / "wp_tokenizer"), "input_cols": ["sentence"],
                                        "label_col": "label"},
            "post_process_data_config": {"type": "text_classification_post_process", "output_name": "logits"},
            "dataloader_config": {"batch_size": 8}}


def test_bert_workflow_with_latency_and_accuracy(tmp_path):
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert_encoder" / "bert_seqcls")},
           "systems": {"local": {"type": "LocalSystem",
                                 "accelerators": [{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
           "data_configs": [cls_data()],
           "evaluators": {"common": {"metrics": [
               {"name": "accuracy", "type": "accuracy", "data_config": "cls",
                "sub_types": [{"name": "accuracy_score", "priority": 1, "goal": {"type": "threshold", "value": 0.0},
                               "metric_config": {"task": "multiclass", "num_classes": 3}}]},
               {"name": "latency", "type": "latency", "data_config": "cls",
                "sub_types": [{"name": "avg", "priority": 2, "metric_config": {"warmup_num": 1, "repeat_test_num": 4}},
                              {"name": "p90"}]}]}},
           "passes": {"conversion": {"type": "ModelBuilder", "precision": "fp32"}},
           "engine": {"evaluator": "common", "target": "local", "output_dir": "out", "cache_dir": "cache"}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = olive("run", "--config", "config.json", "--strict", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"accuracy-accuracy_score", "latency-avg", "latency-p90"}
    assert metrics["latency-avg"]["priority"] == 2 and metrics["latency-avg"]["higher_is_better"] is False
    assert 0 < metrics["latency-avg"]["value"] and 0 < metrics["latency-p90"]["value"]
    # accuracy: numpy on onnxruntime's logits for Olive's tokenization of the rows
    exp = REFS["classification"][0]["expected"]
    s = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = np.array(exp["input_ids"], dtype=np.int64)
    logits = s.run(["logits"], {"input_ids": ids, "attention_mask": np.array(exp["attention_mask"], dtype=np.int64),
                                "token_type_ids": np.zeros_like(ids)})[0]
    want = float((logits.argmax(1) == np.array(exp["labels"])).mean())
    assert metrics["accuracy-accuracy_score"] == {"value": pytest.approx(want, abs=1e-12), "priority": 1,
                                                  "higher_is_better": True}
    fp = json.loads((out / "footprint.json").read_text())
    node = [n for n in fp.values() if n["pass"]][0]
    assert node["metrics"]["value"] == metrics
    assert node["metrics"]["cmp_direction"] == {"accuracy-accuracy_score": 1, "latency-avg": -1, "latency-p90": -1}
    assert node["metrics"]["if_goals_met"] is True
    history = (out / "run_history.txt").read_text().splitlines()
    assert history[0].endswith("\tmetrics") and "accuracy-accuracy_score=" in history[1]
    assert "accuracy-accuracy_score" in r.stdout and "latency-p90" in r.stdout
    # The input is a checkpoint: no input_model_metrics.json
    assert not (out / "input_model_metrics.json").exists()


def test_decoder_workflow_with_perplexity(tmp_path):
    params = REFS["text_generation"][0]["params"]
    data = {"name": "corpus", "type": "HuggingfaceContainer",
            "load_dataset_config": {"data_name": "text", "data_files": str(EV / "corpus.txt"), "split": "train"},
            "pre_process_data_config": {"task": "text-generation", "model_name": str(DATA / "convert" / "llama"),
                                        **params},
            "dataloader_config": {"batch_size": 4}}
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert" / "llama")},
           "data_configs": [data],
           "evaluators": {"ppl": {"metrics": [{"name": "perplexity", "type": "accuracy", "data_config": "corpus",
                                               "sub_types": [{"name": "perplexity", "priority": 1,
                                                              "higher_is_better": False}]},
                                              {"name": "size", "type": "size_on_disk"}]}},
           "passes": {"mb": [{"type": "ModelBuilder", "precision": "fp32"},
                             {"type": "ModelBuilder", "precision": "int4", "int4_block_size": 16}]},
           "evaluator": "ppl", "output_dir": "out", "cache_dir": "cache"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = olive("run", "--config", "config.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    summary_fp = json.loads((out / "footprint.json").read_text())
    ppl = {n["config"]["precision"]: n["metrics"]["value"]["perplexity-perplexity"]["value"]
           for n in summary_fp.values() if n["pass"]}
    want = PPL["cases"][0]["perplexity"]
    assert abs(ppl["fp32"] - want) <= 1e-3 * want, (ppl, want)
    assert ppl["int4"] != ppl["fp32"]
    # lower perplexity wins (priority 1, higher_is_better false)
    assert metrics["perplexity-perplexity"]["value"] == min(ppl.values())
    assert metrics["size-size_on_disk"]["value"] > 0
    assert "perplexity-perplexity" in r.stdout


def test_onnx_input_is_evaluated_too(tmp_path):
    conv = olive("run-pass", "--pass", "convert", "-m", DATA / "convert_encoder" / "bert_seqcls", "-o", tmp_path / "in",
                 "--param", "precision=fp32", cwd=tmp_path)
    assert conv.returncode == 0, conv.stderr
    cfg = {"input_model": {"type": "ONNXModel", "model_path": str(tmp_path / "in")},
           "data_configs": [cls_data()],
           "evaluators": {"e": {"metrics": [{"name": "acc", "type": "accuracy", "data_config": "cls",
                                             "sub_types": [{"name": "accuracy_score", "metric_config": {
                                                 "task": "multiclass", "num_classes": 3}}]}]}},
           "passes": {"q": {"type": "OnnxDynamicQuantization"}},
           "engine": {"evaluator": "e", "evaluate_input_model": True, "output_dir": "out", "cache_dir": "cache"}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = olive("run", "--config", "config.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    inp = json.loads((tmp_path / "out" / "input_model_metrics.json").read_text())
    assert 0 <= inp["acc-accuracy_score"]["value"] <= 1
    assert "input model" in r.stdout


def test_bad_data_fails_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sentence": "good"}\n')
    data = cls_data()
    data["load_dataset_config"]["data_files"] = str(bad)
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert_encoder" / "bert_seqcls")},
           "data_configs": [data],
           "evaluators": {"e": {"metrics": [{"name": "acc", "type": "accuracy", "data_config": "cls",
                                             "sub_types": [{"name": "accuracy_score"}]}]}},
           "passes": {"conversion": {"type": "ModelBuilder", "precision": "fp32"}},
           "engine": {"evaluator": "e", "output_dir": "out", "cache_dir": "cache"}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = olive("run", "--config", "config.json", cwd=tmp_path)
    assert r.returncode == 1
    assert "no column 'label'" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()
