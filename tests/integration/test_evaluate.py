"""Evaluation (olive_evaluate, through the Python binding) against references from the real
thing: accuracy of a BERT classifier equals numpy on onnxruntime's outputs for the token ids
Olive's own pre-processing made (tests/data/evaluate/data_refs.json); perplexity of a converted
decoder folder equals transformers' on the same windows (ppl_refs.json, within 1e-3 relative)
and onnxruntime + numpy's; latency is sane; custom metrics get the outputs; bad data and
configs fail with clear errors.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

LIB = os.environ.get("LIBOLIVE_LIBRARY")
CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not LIB or not CLI, reason="LIBOLIVE_LIBRARY / OLIVE_CLI not set (run through meson test)")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
EV = DATA / "evaluate"
REFS = json.loads((EV / "data_refs.json").read_text())
# scripts/device-check.sh runs these on CUDAExecutionProvider; the references then run there too.
PROVIDER = os.environ.get("OLIVE_TEST_PROVIDER", "CPUExecutionProvider")
DEVICE = "cpu" if PROVIDER == "CPUExecutionProvider" else "gpu"
PPL_REL = 1e-5 if PROVIDER == "CPUExecutionProvider" else 1e-3
PPL = json.loads((EV / "ppl_refs.json").read_text())

sys.path.insert(0, str(ROOT / "bindings" / "python"))
if LIB:
    import libolive  # noqa: E402


def convert(src, out):
    proc = subprocess.run([CLI, "run-pass", "--pass", "convert", "-m", str(src), "-o", str(out), "--param",
                           "precision=fp32"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def evaluate(model, evaluator, **kw):
    with libolive.Accelerator(DEVICE, PROVIDER) as a:
        return libolive.evaluate(model, evaluator, accelerator=a, **kw)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    work = tmp_path_factory.mktemp("evaluate")
    return {"bert": convert(DATA / "convert_encoder" / "bert_seqcls", work / "bert"),
            "llama": convert(DATA / "convert" / "llama", work / "llama")}


def cls_data(**pre):
    params = {"model_name": str(EV / "wp_tokenizer"), "input_cols": ["sentence"], "label_col": "label"}
    params.update(pre)
    return {"name": "cls", "type": "HuggingfaceContainer",
            "load_dataset_config": {"data_name": "json", "data_files": str(EV / "classify.jsonl"), "split": "train"},
            "pre_process_data_config": params,
            "post_process_data_config": {"type": "text_classification_post_process", "output_name": "logits"},
            "dataloader_config": {"batch_size": 4}}


def ort_logits(model_dir, ids, mask, types):
    so = ort.SessionOptions()
    s = ort.InferenceSession(str(model_dir / "model.onnx"), so, providers=[PROVIDER])
    return s.run(["logits"], {"input_ids": np.array(ids, dtype=np.int64), "attention_mask": np.array(mask, dtype=np.int64),
                              "token_type_ids": np.array(types, dtype=np.int64)})[0]


def test_accuracy_matches_numpy_on_onnxruntime_outputs(models):
    exp = REFS["classification"][0]["expected"]  # Olive's tokenization of the same rows
    logits = ort_logits(models["bert"], exp["input_ids"], exp["attention_mask"], exp["token_type_ids"])
    preds, labels = logits.argmax(1), np.array(exp["labels"])
    want_acc = float((preds == labels).mean())
    # torchmetrics' multiclass macro F1: classes absent from predictions and labels do not count
    f1s = []
    for c in range(3):
        tp, fp, fn = ((preds == c) & (labels == c)).sum(), ((preds == c) & (labels != c)).sum(), \
            ((preds != c) & (labels == c)).sum()
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    res = evaluate(models["bert"], {
        "metrics": [{"name": "accuracy", "type": "accuracy", "data_config": "cls",
                     "sub_types": [{"name": "accuracy_score", "priority": 1,
                                    "metric_config": {"task": "multiclass", "num_classes": 3}},
                                   {"name": "f1_score", "metric_config": {"task": "multiclass", "num_classes": 3,
                                                                          "average": "macro"}}]},
                    {"name": "hf", "type": "accuracy", "backend": "huggingface_metrics", "data_config": "cls",
                     "sub_types": [{"name": "accuracy"}]}],
        "data_configs": [cls_data()]})
    assert res["accuracy-accuracy_score"] == {"value": pytest.approx(want_acc, abs=1e-12), "priority": 1,
                                              "higher_is_better": True}
    assert res["accuracy-f1_score"]["value"] == pytest.approx(float(np.mean(f1s)), abs=1e-12)
    assert res["hf-accuracy"]["value"] == pytest.approx(want_acc, abs=1e-12)


@pytest.mark.parametrize("case", [0, 2, 4])
def test_perplexity_matches_transformers(models, case):
    params = dict(REFS["text_generation"][case]["params"])
    data = {"name": "text", "type": "HuggingfaceContainer",
            "load_dataset_config": {"data_name": "text", "data_files": str(EV / "corpus.txt"), "split": "train"},
            "pre_process_data_config": {"type": "text_generation_huggingface_pre_process",
                                        "model_name": str(DATA / "convert" / "llama"), **params},
            "dataloader_config": {"batch_size": 3}}
    res = evaluate(models["llama"], {"metrics": [{"name": "ppl", "type": "accuracy", "data_config": data,
                                                           "sub_types": [{"name": "perplexity"}]}]})
    got = res["ppl-perplexity"]["value"]
    want = PPL["cases"][case]["perplexity"]
    assert abs(got - want) <= 1e-3 * want, (got, want)
    # and onnxruntime + numpy on Olive's windows
    exp = REFS["text_generation"][case]["expected"]
    s = ort.InferenceSession(str(models["llama"] / "model.onnx"), providers=[PROVIDER])
    feeds = {}
    ids = np.array(exp["input_ids"], dtype=np.int64)
    for i in s.get_inputs():
        if i.name.startswith("past_key_values"):
            feeds[i.name] = np.zeros((ids.shape[0], i.shape[1], 0, i.shape[3]), dtype=np.float32)
    feeds["input_ids"] = ids
    feeds["attention_mask"] = np.array(exp["attention_mask"], dtype=np.int64)
    logits = s.run(["logits"], feeds)[0].astype(np.float64)[:, :-1]
    labels = np.array(exp["labels"])[:, 1:]
    m = logits.max(-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    keep = labels != -100
    nll = -np.take_along_axis(logp, np.where(keep, labels, 0)[..., None], -1)[..., 0][keep].sum()
    assert got == pytest.approx(float(np.exp(nll / keep.sum())), rel=PPL_REL)


def test_latency_throughput_and_size_are_sane(models):
    res = evaluate(models["bert"], {"metrics": [
        {"name": "latency", "type": "latency", "data_config": cls_data(),
         "sub_types": [{"name": n, "metric_config": {"warmup_num": 1, "repeat_test_num": 5}} if n == "avg" else {"name": n}
                       for n in ["avg", "min", "p50", "p90", "max"]]},
        {"name": "throughput", "type": "throughput", "data_config": cls_data(),
         "sub_types": [{"name": "p50", "metric_config": {"warmup_num": 0, "repeat_test_num": 3}}]},
        {"name": "size", "type": "size_on_disk"}]})
    v = {k: r["value"] for k, r in res.items()}
    assert 0 < v["latency-min"] <= v["latency-p50"] <= v["latency-p90"] <= v["latency-max"]
    assert v["latency-min"] <= v["latency-avg"] <= v["latency-max"]
    assert res["latency-p50"]["higher_is_better"] is False and res["throughput-p50"]["higher_is_better"] is True
    assert v["throughput-p50"] > 0
    files = [p for p in models["bert"].iterdir() if p.suffix in (".onnx", ".data")]
    assert v["size-size_on_disk"] == sum(p.stat().st_size for p in files)


def test_dummy_data_latency_and_progress_and_cancel(models):
    data = {"name": "d", "type": "DummyDataContainer",
            "load_dataset_config": {"input_shapes": [[2, 8], [2, 8], [2, 8]], "input_types": ["int64"] * 3,
                                    "input_names": ["input_ids", "attention_mask", "token_type_ids"]}}
    seen = []
    ev = {"metrics": [{"name": "lat", "type": "latency", "data_config": data,
                       "sub_types": [{"name": "p50", "metric_config": {"warmup_num": 2, "repeat_test_num": 4}}]}]}
    res = evaluate(models["bert"], ev, progress=lambda *a: seen.append(a) and False)
    assert res["lat-p50"]["value"] > 0
    assert seen[-1][1] == seen[-1][2] == 6 and seen[0][0] == "lat"
    with pytest.raises(libolive.Cancelled):
        evaluate(models["bert"], ev, progress=lambda *a: True)


def test_custom_metric_gets_the_outputs(models):
    got = {}

    def fn(metric, sub_type, model_path, preds, logits, targets):
        got.update(metric=metric, sub=sub_type, path=model_path, preds=preds, logits=logits, targets=targets)
        return float((preds == targets).mean())

    libolive.register_metric("my_accuracy", fn)
    try:
        res = evaluate(models["bert"], {"metrics": [
            {"name": "mine", "type": "custom", "data_config": cls_data(), "user_config": {"metric_func": "my_accuracy"},
             "sub_types": [{"name": "acc", "priority": 1, "higher_is_better": True}]}]})
    finally:
        libolive.unregister_metric("my_accuracy")
    assert got["metric"] == "mine" and got["sub"] == "acc" and got["path"].endswith("model.onnx")
    assert got["logits"].shape == (23, 3) and got["targets"].shape == (23,)
    assert (got["preds"] == got["logits"].argmax(1)).all()
    assert res["mine-acc"]["value"] == pytest.approx(float((got["preds"] == got["targets"]).mean()))


def test_bad_configs_and_data_fail_clearly(models, tmp_path):
    def fails(ev, exc, *fragments):
        with pytest.raises(exc) as info:
            evaluate(models["bert"], ev)
        for f in fragments:
            assert f in str(info.value), str(info.value)

    acc = {"name": "a", "type": "accuracy", "sub_types": [{"name": "accuracy_score",
                                                            "metric_config": {"task": "multiclass", "num_classes": 3}}]}
    fails({"metrics": [{**acc, "data_config": cls_data(label_col="nope")}]}, libolive.InvalidArgument, "'nope'")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sentence": "good", "label": 1}\n{"sentence": "bad", "label": \n')
    data = cls_data()
    data["load_dataset_config"]["data_files"] = str(bad)
    fails({"metrics": [{**acc, "data_config": data}]}, libolive.FormatError, "bad.jsonl:2")
    # files inside a Hub dataset: the dataset viewer serves splits, not files (refused before any request)
    data["load_dataset_config"] = {"data_name": "glue", "subset": "mrpc", "split": "validation",
                                   "data_files": "validation.parquet"}
    fails({"metrics": [{**acc, "data_config": data}]}, libolive.Unsupported, "data_files")
    fails({"metrics": [{**acc, "data_config": "missing"}]}, libolive.NotFound, "'missing'")
    fails({"metrics": [{"name": "l", "type": "latency", "sub_types": [{"name": "p42"}]}]}, libolive.InvalidArgument,
          "p42")
    fails({"metrics": [{"name": "c", "type": "custom", "sub_types": [{"name": "x"}],
                        "user_config": {"metric_func": "nobody"}}]}, libolive.NotFound, "nobody")
    # Symbolic input dims and no data: Olive needs a data_config too.
    fails({"metrics": [{"name": "l", "type": "latency", "sub_types": [{"name": "p50"}]}]}, libolive.InvalidArgument,
          "data_config")


def test_nan_outputs_invalidate_the_metric(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    two = numpy_helper.from_array(np.array([2.0], dtype=np.float32), "two")
    graph = helper.make_graph([helper.make_node("Sub", ["x", "two"], ["d"]), helper.make_node("Sqrt", ["d"], ["y"])],
                              "nan", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "nan.onnx"))
    libolive.register_metric("never_called", lambda *a: 0.0)
    try:
        with pytest.raises(libolive.FormatError) as info:
            evaluate(tmp_path / "nan.onnx", {"metrics": [{
                "name": "m", "type": "custom", "user_config": {"metric_func": "never_called"},
                "sub_types": [{"name": "v"}],
                "data_config": {"type": "DummyDataContainer", "load_dataset_config": {
                    "input_shapes": [[1, 3]], "input_names": ["x"], "max_samples": 2}}}]})
    finally:
        libolive.unregister_metric("never_called")
    assert "NaN" in str(info.value) and "'y'" in str(info.value)
