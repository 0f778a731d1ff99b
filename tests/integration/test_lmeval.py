"""LMEvaluator: lm-eval tasks by name, their rows read from a loopback dataset viewer
(datasets_server.py) serving the made-up rows of tests/data/lm_tasks, scored on a converted tiny
decoder through ONNX Runtime.

  - the requests built per task equal what lm-eval's task definitions make of the rows (the
    expected strings are written here by hand from the task YAMLs: ARC, HellaSwag's clean-up,
    BoolQ, Winogrande's partial contexts, LAMBADA's last word);
  - a continuation's log-likelihood over token ids equals the one transformers' recorded logits
    give (tests/data/convert/llama/reference.npz);
  - each request's log-likelihood equals a reference computed here with Hugging Face tokenizers,
    onnxruntime and numpy as lm-eval's model class computes it (as test_benchmark.py checks
    `olive benchmark`);
  - a workflow with an LMEvaluator writes Olive's metric names into metrics.json and the
    footprint, and refuses an unknown task by name.
"""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from datasets_server import DatasetsServer

ort = pytest.importorskip("onnxruntime")
tokenizers = pytest.importorskip("tokenizers")

CLI = os.environ.get("OLIVE_CLI")
TOOL = os.environ.get("OLIVE_LM_REQUESTS")
pytestmark = pytest.mark.skipif(not CLI or not TOOL, reason="OLIVE_CLI / OLIVE_LM_REQUESTS are not set (meson test "
                                                            "sets them)")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
ROWS = DATA / "lm_tasks"
MAX_LEN = 64


@pytest.fixture(scope="module")
def viewer():
    server, found = DatasetsServer(), {}
    for f in sorted(ROWS.glob("*.jsonl")):
        dataset, config, split = f.name[:-len(".jsonl")].rsplit(".", 2)
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        found.setdefault(dataset.replace("--", "/"), {}).setdefault(config, {})[split] = rows
    for dataset, configs in found.items():
        server.add(dataset, configs)
    yield server
    server.close()


def env_for(tmp_path, url):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    e.update(HF_HOME=str(tmp_path / "hf"), HF_DATASETS_SERVER_ENDPOINT=url)
    return e


def requests_of(tmp_path, viewer, task, limit, *model):
    r = subprocess.run([TOOL, task, str(limit), *map(str, model)], env=env_for(tmp_path, viewer.url),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def pairs(doc):
    return [(q["context"], q["continuation"]) for q in doc["requests"]]


def test_arc_requests(tmp_path, viewer):
    docs = requests_of(tmp_path, viewer, "arc_easy", 2)["docs"]
    assert len(docs) == 2
    q1 = "Question: Which animal lives in the sea?\nAnswer:"
    assert pairs(docs[0]) == [(q1, " a cow"), (q1, " a fish"), (q1, " a goat"), (q1, " a hen")]
    assert docs[0]["gold"] == 1
    q2 = "Question: What melts ice? \nAnswer:"
    assert pairs(docs[1]) == [(q2, " heat"), (q2, " cold"), (q2, " dark")]
    assert docs[1]["gold"] == 0  # answerKey "1" is the first label


def test_hellaswag_requests(tmp_path, viewer):
    docs = requests_of(tmp_path, viewer, "hellaswag", 0)["docs"]
    assert len(docs) == 3
    q = "Baking cookies: A woman mixes flour in a bowl. Then, she"
    assert pairs(docs[0]) == [(q, " puts the bowl in the oven."), (q, " sings to the bowl."),
                              (q, " throws the bowl away."), (q, " paints the bowl red.")]
    # " [title]" -> ". ", bracketed spans dropped, double spaces single; an ending that starts
    # with a bracket keeps the space after it
    q = "Home and Garden: How to water a plant. Fill a can. pour the water slowly."
    assert pairs(docs[1]) == [(q, "  Stop when the soil is wet."), (q, " Eat the plant."),
                              (q, " Sell the can. at a shop."), (q, " Water the road.")]
    assert [d["gold"] for d in docs] == [0, 0, 0]
    assert docs[2]["requests"][0]["context"] == "Running: A man ties his shoes. He"


def test_boolq_winogrande_lambada_requests(tmp_path, viewer):
    docs = requests_of(tmp_path, viewer, "boolq", 2)["docs"]
    q = "On a clear day the sky looks blue.\nQuestion: is the sky blue on a clear day?\nAnswer:"
    assert pairs(docs[0]) == [(q, " no"), (q, " yes")] and docs[0]["gold"] == 1
    q = "Fish swim in water and have no legs.\nQuestion: can a fish walk?\nAnswer:"
    assert pairs(docs[1]) == [(q, " no"), (q, " yes")] and docs[1]["gold"] == 0
    docs = requests_of(tmp_path, viewer, "winogrande", 0)["docs"]
    assert pairs(docs[0]) == [("The cup fell off the table because the cup", " was wobbly."),
                              ("The cup fell off the table because the table", " was wobbly.")]
    assert [d["gold"] for d in docs] == [1, 0]
    docs = requests_of(tmp_path, viewer, "lambada_openai", 1)["docs"]
    assert pairs(docs[0]) == [("She opened the door and saw her old friend standing in the", " rain")]


def test_unknown_task_and_missing_fields(tmp_path, viewer):
    r = subprocess.run([TOOL, "mmlu"], capture_output=True, text=True)
    assert r.returncode == 2 and "arc_easy" in r.stderr
    viewer.add("allenai/openbookqa", {"main": {"test": [{"question_stem": "Why?", "answerKey": "A"}]}})
    r = subprocess.run([TOOL, "openbookqa"], env=env_for(tmp_path, viewer.url), capture_output=True, text=True)
    assert r.returncode == 1 and "row 0" in r.stderr and "choices" in r.stderr, r.stderr


# ---- scores ----

@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "llama"
    r = subprocess.run([CLI, "run-pass", "--pass", "convert", "-m", str(DATA / "convert" / "llama"), "-o", str(out),
                        "--param", "precision=fp32"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


class Reference:
    """lm-eval's HF loglikelihood on onnxruntime: _encode_pair, the prefix token for an empty
    context (bos for lm-eval's Hugging Face class; eos, lm-eval's default, for Olive's ONNX
    Runtime class that LMEvaluator uses), the last max_length + 1 tokens but the final one,
    log-softmax summed."""

    def __init__(self, folder, max_len, prefix="bos_token"):
        self.tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.s = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        cfg = json.loads((folder / "tokenizer_config.json").read_text())
        self.prefix = self.tok.token_to_id(cfg[prefix])
        self.max_len = max_len

    def encode(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids if text else []

    def request(self, context, continuation):
        if context == "":
            ctx, cont = [self.prefix], self.encode(continuation)
        else:
            n = len(context) - len(context.rstrip())
            if n:
                continuation, context = context[-n:] + continuation, context[:-n]
            whole, ctx = self.encode(context + continuation), self.encode(context)
            cont = whole[len(ctx):]
        inp = (ctx + cont)[-(self.max_len + 1):][:-1]
        feeds = {"input_ids": np.array([inp], dtype=np.int64), "attention_mask": np.ones((1, len(inp)), np.int64)}
        for i in self.s.get_inputs():
            if i.name.startswith("past_key_values"):
                feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
            elif i.name == "position_ids":
                feeds[i.name] = np.arange(len(inp), dtype=np.int64)[None]
        logits = self.s.run(["logits"], feeds)[0][0].astype(np.float64)[len(inp) - len(cont):]
        logp = logits - logits.max(-1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
        return float(sum(logp[k, t] for k, t in enumerate(cont))), bool(all(logp[k].argmax() == t
                                                                             for k, t in enumerate(cont)))


def expected_scores(ref, docs, loglikelihood=False):
    acc, acc_norm, lls = [], [], []
    for d in docs:
        got = [ref.request(q["context"], q["continuation"]) for q in d["requests"]]
        if loglikelihood:
            lls.append(got[0][0])
            acc.append(float(got[0][1]))
            continue
        ll = np.array([g[0] for g in got])
        acc.append(float(np.argmax(ll) == d["gold"]))
        acc_norm.append(float(np.argmax(ll / np.array([len(q["choice"]) for q in d["requests"]])) == d["gold"]))
    return acc, acc_norm, lls


@pytest.mark.parametrize("task", ["arc_easy", "hellaswag", "boolq", "winogrande", "lambada_openai"])
def test_loglikelihoods_match_reference(tmp_path, viewer, model, task):
    got = requests_of(tmp_path, viewer, task, 0, model / "model.onnx", MAX_LEN)
    ref = Reference(model, MAX_LEN)
    for d in got["docs"]:
        for q in d["requests"]:
            ll, greedy = ref.request(q["context"], q["continuation"])
            assert q["ll"] == pytest.approx(ll, rel=1e-5, abs=1e-5), (task, q)
            assert q["greedy"] == greedy
    acc, acc_norm, lls = expected_scores(ref, got["docs"], task == "lambada_openai")
    assert got["result"]["n"] == len(got["docs"])
    assert got["result"]["acc"] == pytest.approx(np.mean(acc))
    if task == "lambada_openai":
        assert got["result"]["perplexity"] == pytest.approx(np.exp(-np.mean(lls)), rel=1e-5)
    else:
        assert got["result"]["acc_norm"] == pytest.approx(np.mean(acc_norm))


def test_a_workflow_with_lmevaluator_writes_olive_metric_names(tmp_path, viewer):
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert" / "llama")},
           "systems": {"local": {"type": "LocalSystem",
                                 "accelerators": [{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
           "evaluators": {"lm": {"type": "LMEvaluator", "tasks": ["arc_easy", "lambada_openai"], "batch_size": 8,
                                 "limit": 3, "max_length": MAX_LEN}},
           "passes": {"conversion": {"type": "ModelBuilder", "precision": "fp32"}},
           "evaluator": "lm", "target": "local", "output_dir": "out", "cache_dir": "cache"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([CLI, "run", "--config", "config.json", "--strict"], cwd=tmp_path,
                       env=env_for(tmp_path, viewer.url), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"arc_easy-acc", "arc_easy-acc_norm", "lambada_openai-acc", "lambada_openai-perplexity"}
    assert all(v["priority"] == -1 and v["higher_is_better"] is True for v in metrics.values())
    ref = Reference(out, MAX_LEN, prefix="eos_token")
    docs = requests_of(tmp_path, viewer, "arc_easy", 3)["docs"]
    acc, acc_norm, _ = expected_scores(ref, docs)
    assert metrics["arc_easy-acc"]["value"] == pytest.approx(np.mean(acc))
    assert metrics["arc_easy-acc_norm"]["value"] == pytest.approx(np.mean(acc_norm))
    docs = requests_of(tmp_path, viewer, "lambada_openai", 3)["docs"]
    assert docs[2]["requests"][0]["context"] == ""  # scored after eos, where lm-eval's HF class takes bos
    acc, _, lls = expected_scores(ref, docs, True)
    assert lls[2] != pytest.approx(Reference(out, MAX_LEN).request("", " Goodbye")[0])
    assert metrics["lambada_openai-acc"]["value"] == pytest.approx(np.mean(acc))
    assert metrics["lambada_openai-perplexity"]["value"] == pytest.approx(np.exp(-np.mean(lls)), rel=1e-5)
    fp = json.loads((out / "footprint.json").read_text())
    node = [n for n in fp.values() if n["pass"]][0]
    assert node["metrics"]["value"] == metrics
    assert "arc_easy-acc_norm" in r.stdout
    # only the rows the limit needs were asked for
    assert all(int(q["length"][0]) <= 100 for q in viewer.rows_requests())


def test_a_workflow_refuses_an_unknown_task(tmp_path, viewer):
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert" / "llama")},
           "evaluators": {"lm": {"type": "LMEvaluator", "tasks": ["arc_easy", "mmlu_pro"]}},
           "passes": {"conversion": {"type": "ModelBuilder", "precision": "fp32"}},
           "evaluator": "lm", "output_dir": "out", "cache_dir": "cache"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([CLI, "run", "--config", "config.json"], cwd=tmp_path, env=env_for(tmp_path, viewer.url),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "mmlu_pro" in r.stderr and "hellaswag" in r.stderr and "tasks[1]" in r.stderr, r.stderr
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_benchmark_scores_named_tasks(tmp_path, viewer, model):
    """`olive benchmark --tasks NAME` scores lm-eval tasks through the same library code: acc and
    acc_norm with their standard errors, against the reference."""
    r = subprocess.run([CLI, "benchmark", "-m", str(model), "--tasks", "arc_easy", "boolq", "--max_length",
                        str(MAX_LEN), "--limit", "3", "--gen_tokens", "0", "-o", str(tmp_path / "out.json")],
                       env=env_for(tmp_path, viewer.url), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads((tmp_path / "out.json").read_text())["results"]
    ref = Reference(model, MAX_LEN)
    for task in ("arc_easy", "boolq"):
        docs = requests_of(tmp_path, viewer, task, 3)["docs"]
        acc, acc_norm, _ = expected_scores(ref, docs)
        assert got[task]["samples"] == 3
        assert got[task]["acc"] == pytest.approx(np.mean(acc))
        assert got[task]["acc_stderr"] == pytest.approx(np.std(acc, ddof=1) / np.sqrt(3))
        if task == "arc_easy":
            assert got[task]["acc_norm"] == pytest.approx(np.mean(acc_norm))
        else:
            assert "acc_norm" not in got[task]  # lm-eval's boolq reports acc only
    assert "arc_easy" in r.stdout and "boolq" in r.stdout
    r = subprocess.run([CLI, "benchmark", "-m", str(model), "--tasks", "mmlu", "--gen_tokens", "0"],
                       env=env_for(tmp_path, viewer.url), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 1 and "mmlu" in r.stderr and "winogrande" in r.stderr, r.stderr


def test_modelbuilder_metadata_only_on_a_checkpoint_is_refused_by_name(tmp_path):
    """metadata_only describes an ONNX decoder another pass exported (test_metadata_only.py):
    given the checkpoint itself, it is refused by the pass's name, nothing written."""
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert" / "llama")},
           "passes": {"mb": {"type": "ModelBuilder", "precision": "int", "metadata_only": True}},
           "output_dir": "out", "cache_dir": "cache"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([CLI, "run", "--config", "config.json"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode != 0 and "passes.mb" in r.stderr and "checkpoint" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_token_loglikelihoods_match_transformers(model):
    """The log-likelihood of a continuation equals the one transformers' recorded logits give
    (tests/data/convert/llama/reference.npz: the fixture's logits over prefill_ids)."""
    ref = np.load(DATA / "convert" / "llama" / "reference.npz")
    ids, logits = ref["prefill_ids"][0], ref["prefill_logits"][0].astype(np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    for cut in (1, 3, len(ids) - 1):
        ctx, cont = ids[:cut], ids[cut:]
        want = sum(logp[cut - 1 + k, t] for k, t in enumerate(cont))
        greedy = all(logp[cut - 1 + k].argmax() == t for k, t in enumerate(cont))
        r = subprocess.run([TOOL, "--ids", str(model / "model.onnx"), ",".join(map(str, ctx)),
                            ",".join(map(str, cont))], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert got["ll"] == pytest.approx(want, rel=1e-5, abs=1e-5), cut
        assert got["greedy"] == greedy


@pytest.mark.skipif(not os.environ.get("LIBOLIVE_LIBRARY"), reason="LIBOLIVE_LIBRARY is not set")
def test_python_binding(tmp_path, viewer, model, monkeypatch):
    """libolive.evaluate() with an LMEvaluator (olive_evaluate) and libolive.lm_eval() on a local
    multiple-choice file (olive_lm_eval) give the reference's numbers."""
    import sys
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    import libolive
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_SERVER_ENDPOINT", viewer.url)
    ref = Reference(model, MAX_LEN, prefix="eos_token")
    got = libolive.evaluate(model, {"type": "LMEvaluator", "tasks": ["hellaswag"], "limit": 2, "max_length": MAX_LEN})
    acc, acc_norm, _ = expected_scores(ref, requests_of(tmp_path, viewer, "hellaswag", 2)["docs"])
    assert got == {"hellaswag-acc": {"value": pytest.approx(np.mean(acc)), "priority": -1, "higher_is_better": True},
                   "hellaswag-acc_norm": {"value": pytest.approx(np.mean(acc_norm)), "priority": -1,
                                          "higher_is_better": True}}
    task = tmp_path / "local.jsonl"
    docs = [{"context": "The cat sat on the", "choices": ["mat", "moon"], "gold": 0},
            {"context": "Water is ", "choices": ["wet", "dry", "blue"], "gold": 0}]
    task.write_text("".join(json.dumps(d) + "\n" for d in docs))
    got = libolive.lm_eval(model, [str(task)], max_length=MAX_LEN)["local"]
    as_requests = [{"gold": d["gold"], "requests": [{"context": d["context"], "continuation": " " + c, "choice": c}
                                                    for c in d["choices"]]} for d in docs]
    acc, acc_norm, _ = expected_scores(Reference(model, MAX_LEN), as_requests)
    assert got["samples"] == 2
    assert got["acc"] == pytest.approx(np.mean(acc)) and got["acc_norm"] == pytest.approx(np.mean(acc_norm))
