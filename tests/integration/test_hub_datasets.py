"""Datasets on the Hugging Face Hub in a data config, read through the dataset viewer API against a
loopback server that answers as datasets-server does (datasets_server.py): the rows served,
pagination, fetching only what the selection needs, the verified cache, offline mode, tokens and
the errors a user meets. The rows are loaded by tests/tools/dataset_rows (the workflow's loader),
and a workflow is evaluated on a Hub dataset and on the same rows as a local file."""
import hashlib
import json
import os
import pathlib
import socket
import subprocess

import pytest

from datasets_server import DatasetsServer
from test_workflow import CLI, TIMEOUT

TOOL = os.environ.get("OLIVE_DATASET_ROWS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_DATASET_ROWS is not set (meson test sets it)")

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"


def pairs(n, seed):
    words = ["cat", "dog", "river", "stone", "quick", "slow", "red", "blue", "über", "naïve"]
    return [{"sentence1": " ".join(words[(i * 7 + k + seed) % len(words)] for k in range(3 + i % 4)),
             "sentence2": " ".join(words[(i * 3 + k) % len(words)] for k in range(2 + i % 3)),
             "label": (i * seed) % 2, "idx": i, "score": i / 8} for i in range(n)]


TRAIN = pairs(250, 3)
VALID = pairs(20, 5)
SST2 = [{"sentence": "a fine film", "label": 1, "idx": 0}]


@pytest.fixture
def viewer():
    server = DatasetsServer()
    server.add("acme/pairs", {"default": {"train": TRAIN, "validation": VALID}})
    server.add("glue", {"mrpc": {"validation": VALID}, "sst2": {"validation": SST2}})
    server.add("acme/gated", {"default": {"validation": VALID}}, token="hf_secret")
    yield server
    server.close()


def env_for(tmp_path, url, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    e.update(HF_HOME=str(tmp_path / "hf"), HF_DATASETS_SERVER_ENDPOINT=url, **extra)
    return e


def load(tmp_path, url, params, max_rows=None, **extra):
    args = [TOOL, json.dumps(params)] + ([str(max_rows)] if max_rows is not None else [])
    r = subprocess.run(args, env=env_for(tmp_path, url, **extra), capture_output=True, text=True, timeout=TIMEOUT)
    return (json.loads(r.stdout) if r.returncode == 0 else None), r


def rows_ok(tmp_path, url, params, max_rows=None, **extra):
    rows, r = load(tmp_path, url, params, max_rows, **extra)
    assert r.returncode == 0, r.stderr
    return rows


def error(tmp_path, url, params, *needles, max_rows=None, **extra):
    rows, r = load(tmp_path, url, params, max_rows, **extra)
    assert r.returncode == 1, (r.stdout, r.stderr)
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    return r.stderr


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cache_file(tmp_path, *parts):
    return tmp_path / "hf" / "datasets" / "libolive-rows" / pathlib.Path(*parts)


def test_rows_equal_the_served_ones_across_pages(tmp_path, viewer):
    rows = rows_ok(tmp_path, viewer.url, {"data_name": "acme/pairs", "split": "train"})
    assert rows == TRAIN  # values, types and key order as served
    reqs = viewer.rows_requests()
    assert [(q["offset"], q["length"]) for q in reqs] == [("0", "100"), ("100", "100"), ("200", "50")]
    assert all(q["dataset"] == "acme/pairs" and q["config"] == "default" and q["split"] == "train" for q in reqs)
    # no token configured: none sent
    assert all("Authorization" not in h for _, _, h in viewer.requests)
    # the default split is Olive's "validation"; a subset names the config
    assert rows_ok(tmp_path, viewer.url, {"data_name": "glue", "subset": "mrpc"}) == VALID
    assert rows_ok(tmp_path, viewer.url, {"data_name": "glue", "subset": "sst2"}) == SST2


def test_only_the_rows_the_selection_needs_are_fetched(tmp_path, viewer):
    p = {"data_name": "acme/pairs", "split": "train[:30]"}
    assert rows_ok(tmp_path, viewer.url, p) == TRAIN[:30]
    assert [(q["offset"], q["length"]) for q in viewer.rows_requests()] == [("0", "30")]
    # max_samples of the pre-processing bounds the rows too; these are in the cache already
    assert rows_ok(tmp_path, viewer.url, {"data_name": "acme/pairs", "split": "train[10:]"}, max_rows=5) == TRAIN[10:15]
    assert len(viewer.rows_requests()) == 1
    # more rows: only the missing ones are asked for
    assert rows_ok(tmp_path, viewer.url, {"data_name": "acme/pairs", "split": "train"}, max_rows=120) == TRAIN[:120]
    assert [(q["offset"], q["length"]) for q in viewer.rows_requests()[1:]] == [("30", "90")]
    # a slice counted from the end needs the split's size, so the whole split
    assert rows_ok(tmp_path, viewer.url, {"data_name": "acme/pairs", "split": "train[-5:]"}) == TRAIN[-5:]
    assert [(q["offset"], q["length"]) for q in viewer.rows_requests()[2:]] == [("120", "100"), ("220", "30")]
    # a filter may drop rows: max_rows does not bound what the filter sees
    got = rows_ok(tmp_path, viewer.url, {"data_name": "glue", "subset": "mrpc", "col_filters": {"label": 1}},
                  max_rows=2)
    assert got == [r for r in VALID if r["label"] == 1]


def test_cache_serves_a_second_run_offline_and_is_verified(tmp_path, viewer):
    p = {"data_name": "glue", "subset": "mrpc", "split": "validation"}
    assert rows_ok(tmp_path, viewer.url, p) == VALID
    cached = cache_file(tmp_path, "glue", "mrpc", "validation.json")
    sha = pathlib.Path(str(cached) + ".sha256")
    assert cached.is_file() and sha.read_text().strip() == hashlib.sha256(cached.read_bytes()).hexdigest()
    dead = "http://127.0.0.1:%d" % closed_port()
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        assert rows_ok(tmp_path, dead, p, **{var: "1"}) == VALID
    # online, a cached split is not asked for again
    n = len(viewer.requests)
    assert rows_ok(tmp_path, viewer.url, p) == VALID and len(viewer.requests) == n
    # offline with no subset: the one config in the cache
    assert rows_ok(tmp_path, dead, {"data_name": "glue"}, HF_DATASETS_OFFLINE="1") == VALID
    # not in the cache, or not enough of it: refused by name, nothing fetched
    error(tmp_path, dead, {"data_name": "acme/pairs", "split": "train"}, "'acme/pairs'", "'train'",
          "HF_HUB_OFFLINE or HF_DATASETS_OFFLINE", HF_DATASETS_OFFLINE="1")
    rows_ok(tmp_path, viewer.url, {"data_name": "acme/pairs", "split": "train[:10]"})
    error(tmp_path, dead, {"data_name": "acme/pairs", "split": "train[:20]"}, "10 held", HF_HUB_OFFLINE="1")
    assert rows_ok(tmp_path, dead, {"data_name": "acme/pairs", "split": "train[:10]"}, HF_HUB_OFFLINE="1") == TRAIN[:10]
    # bytes changed behind the sha256: never served; fetched again when online
    text = cached.read_text()
    cached.write_text(text.replace('"label":0', '"label":7', 1))
    err = error(tmp_path, dead, p, "HF_DATASETS_OFFLINE", HF_DATASETS_OFFLINE="1")
    assert "does not match its sha256" in err
    n = len(viewer.rows_requests())
    assert rows_ok(tmp_path, viewer.url, p) == VALID and len(viewer.rows_requests()) == n + 1
    assert cached.read_text() == text
    # a cache file of another split copied over this one is not used either
    other = cache_file(tmp_path, "acme--pairs", "default", "train.json")
    cached.write_bytes(other.read_bytes())
    sha.write_bytes(pathlib.Path(str(other) + ".sha256").read_bytes())
    error(tmp_path, dead, p, "does not hold the rows of this split", HF_DATASETS_OFFLINE="1")


def test_errors_name_what_is_missing(tmp_path, viewer):
    err = error(tmp_path, viewer.url, {"data_name": "acme/nothing"}, "'acme/nothing' not found on " + viewer.url,
                "HTTP 404", "set HF_TOKEN")
    assert "load_dataset_config.data_name" in err
    error(tmp_path, viewer.url, {"data_name": "glue", "subset": "mnli"}, "'glue' has no config 'mnli'",
          "mrpc/validation, sst2/validation")
    error(tmp_path, viewer.url, {"data_name": "glue", "subset": "mrpc", "split": "test"},
          "no split 'test' in config 'mrpc'", "mrpc/validation")
    error(tmp_path, viewer.url, {"data_name": "glue"}, "several configs (mrpc, sst2)", "subset")
    # one config: used without naming it
    assert rows_ok(tmp_path, viewer.url, {"data_name": "acme/pairs"}) == VALID
    # gated: a token is asked for, then sent, and to the viewer only
    error(tmp_path, viewer.url, {"data_name": "acme/gated"}, "access to dataset 'acme/gated' refused", "HTTP 401",
          "gated or private", "set HF_TOKEN")
    error(tmp_path, viewer.url, {"data_name": "acme/gated"}, "has no access", HF_TOKEN="hf_wrong")
    assert rows_ok(tmp_path, viewer.url, {"data_name": "acme/gated"}, HF_TOKEN="hf_secret") == VALID
    assert viewer.requests[-1][2].get("Authorization") == "Bearer hf_secret"
    (tmp_path / "hf").mkdir(exist_ok=True)
    (tmp_path / "hf" / "token").write_text("hf_secret\n")
    cache_file(tmp_path, "acme--gated", "default", "validation.json").unlink()
    assert rows_ok(tmp_path, viewer.url, {"data_name": "acme/gated"}) == VALID
    # the network: the host is named
    port = closed_port()
    error(tmp_path, "http://127.0.0.1:%d" % port, {"data_name": "acme/pairs", "split": "train"},
          "cannot reach 127.0.0.1:%d for dataset 'acme/pairs'" % port)
    # cells the viewer cut short are not used as data
    viewer.truncate = "sentence1"
    error(tmp_path, viewer.url, {"data_name": "acme/pairs", "split": "train"}, "truncated column 'sentence1'")
    # names that are not Hub names, local-looking paths, data_files with a Hub dataset
    error(tmp_path, viewer.url, {"data_name": "../up"}, "neither a local file or folder nor a dataset name")
    error(tmp_path, viewer.url, {"data_name": "rows/missing.jsonl"}, "'rows/missing.jsonl' does not exist")
    error(tmp_path, viewer.url, {"data_name": "acme/pairs", "data_files": "a.json"}, "data_files")
    assert not [q for q in viewer.rows_requests() if int(q["length"]) > 100]


@pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set")
def test_a_workflow_evaluates_a_hub_dataset_as_its_local_copy(tmp_path, viewer):
    lines = (DATA / "evaluate" / "classify.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    viewer.add("acme/classify", {"default": {"train": rows}})

    def run(load, out, model=None):
        data = {"name": "sentences", "type": "HuggingfaceContainer", "load_dataset_config": load,
                "pre_process_data_config": {"model_name": str(DATA / "evaluate" / "wp_tokenizer"),
                                            "input_cols": ["sentence"], "label_col": "label", "max_length": 24,
                                            "max_samples": 12},
                "post_process_data_config": {"type": "text_classification_post_process", "output_name": "logits"},
                "dataloader_config": {"batch_size": 4}}
        input_model = {"type": "HfModel", "model_path": str(DATA / "convert_encoder" / "bert_seqcls")}
        if model:
            # as Olive, the tokenizer and the task come from the input model; the classifier's
            # "logits" output is read though the converted model lists last_hidden_state first
            input_model = {"type": "HfModel", "model_path": str(model), "task": "text-classification"}
            del data["pre_process_data_config"]["model_name"], data["post_process_data_config"]
        cfg = {
            "input_model": input_model,
            "data_configs": [data],
            "evaluators": {"common": {"metrics": [{
                "name": "accuracy", "type": "accuracy", "data_config": "sentences",
                "sub_types": [{"name": "accuracy_score", "priority": 1,
                               "metric_config": {"task": "multiclass", "num_classes": 3}}]}]}},
            "passes": {"conversion": {"type": "ModelBuilder", "precision": "fp32"}},
            "engine": {"evaluator": "common", "output_dir": out, "cache_dir": "cache-" + out},
        }
        (tmp_path / (out + ".json")).write_text(json.dumps(cfg))
        r = subprocess.run([CLI, "run", "--config", out + ".json"], cwd=tmp_path,
                           env=env_for(tmp_path, viewer.url), capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        return json.loads((tmp_path / out / "metrics.json").read_text())

    local = run({"data_name": "json", "data_files": str(DATA / "evaluate" / "classify.jsonl"), "split": "train"},
                "local")
    hub = run({"data_name": "acme/classify", "split": "train"}, "hub")
    assert hub == local and local
    model = tmp_path / "model"
    model.mkdir()
    for f in [*(DATA / "convert_encoder" / "bert_seqcls").iterdir(), *(DATA / "evaluate" / "wp_tokenizer").iterdir()]:
        (model / f.name).write_bytes(f.read_bytes())
    assert run({"data_name": "acme/classify", "split": "train"}, "implicit", model) == local
    # max_samples 12: twelve rows fetched
    assert [(q["offset"], q["length"]) for q in viewer.rows_requests()] == [("0", "12")]
