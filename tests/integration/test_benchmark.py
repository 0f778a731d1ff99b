"""`olive benchmark` on local tasks against a Python reference with lm-eval's definitions
(loglikelihood of " choice" after the context, acc and acc_norm; rolling loglikelihood windows
for a text, word/byte perplexity and bits per byte), computed here with Hugging Face tokenizers,
onnxruntime and numpy on the same converted tiny decoder.
"""

import json
import math
import os
import pathlib
import re
import subprocess

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
tokenizers = pytest.importorskip("tokenizers")

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
CORPUS = DATA / "evaluate" / "corpus.txt"
MAX_LEN = 64


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "llama"
    r = subprocess.run([CLI, "run-pass", "--pass", "convert", "-m", str(DATA / "convert" / "llama"), "-o", str(out),
                        "--param", "precision=fp32"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


class Reference:
    def __init__(self, folder):
        self.tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.s = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        cfg = json.loads((folder / "tokenizer_config.json").read_text())
        self.prefix = self.tok.token_to_id(cfg["bos_token"])

    def encode(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids if text else []

    def loglikelihood(self, ctx, cont):
        inp = (ctx + cont)[-(MAX_LEN + 1):][:-1]
        feeds = {"input_ids": np.array([inp], dtype=np.int64), "attention_mask": np.ones((1, len(inp)), np.int64)}
        for i in self.s.get_inputs():
            if i.name.startswith("past_key_values"):
                feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
        logits = self.s.run(["logits"], feeds)[0][0].astype(np.float64)[len(inp) - len(cont):]
        logp = logits - logits.max(-1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
        return float(sum(logp[k, t] for k, t in enumerate(cont)))

    def choice(self, context, choice):
        cont = " " + choice
        n = len(context) - len(context.rstrip(" "))
        if n:
            cont, context = context[-n:] + cont, context[:-n]
        whole, ctx = self.encode(context + cont), self.encode(context)
        if not ctx:
            return self.loglikelihood([self.prefix], whole)
        return self.loglikelihood(ctx, whole[len(ctx):])

    def rolling(self, text):
        toks = self.encode(text)
        first = min(MAX_LEN, len(toks))
        total = self.loglikelihood([self.prefix], toks[:first])
        predicted = first
        while predicted < len(toks):
            pred = min(len(toks) - predicted, MAX_LEN)
            end = predicted + pred
            a, b = toks[end - MAX_LEN - 1:end - 1], toks[end - pred:end]
            total += self.loglikelihood(a[:len(a) - (len(b) - 1)], b)
            predicted += pred
        return total


def test_benchmark_matches_reference(model, tmp_path):
    lines = [l for l in CORPUS.read_text().splitlines() if l]
    rng = np.random.default_rng(3)
    docs = []
    for i, line in enumerate(lines[:10]):
        words = line.split()
        cut = max(1, len(words) // 2)
        others = [" ".join(lines[j].split()[cut:cut + 3]) or "nothing" for j in rng.choice(len(lines), 3, replace=False)
                  if j != i][:2]
        choices = [" ".join(words[cut:])] + others
        gold = int(rng.integers(0, len(choices)))
        choices[0], choices[gold] = choices[gold], choices[0]
        docs.append({"context": " ".join(words[:cut]) + (" " if i % 3 == 0 else ""), "choices": choices, "gold": gold})
    docs.append({"context": "", "choices": ["The answer", "Forty-two"], "gold": 1})
    task = tmp_path / "mc.jsonl"
    task.write_text("".join(json.dumps(d) + "\n" for d in docs))
    r = subprocess.run([CLI, "benchmark", "-m", str(model), "--tasks", str(task), str(CORPUS), "--max_length",
                        str(MAX_LEN), "--limit", "10", "--gen_tokens", "4", "-o", str(tmp_path / "out.json")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads((tmp_path / "out.json").read_text())
    ref = Reference(model)
    acc, acc_norm = [], []
    for d in docs[:10]:
        lls = np.array([ref.choice(d["context"], c) for c in d["choices"]])
        acc.append(float(np.argmax(lls) == d["gold"]))
        acc_norm.append(float(np.argmax(lls / np.array([len(c) for c in d["choices"]])) == d["gold"]))
    mc = got["results"]["mc"]
    assert mc["samples"] == 10
    assert mc["acc"] == pytest.approx(np.mean(acc)) and mc["acc_norm"] == pytest.approx(np.mean(acc_norm))
    assert mc["acc_stderr"] == pytest.approx(np.std(acc, ddof=1) / math.sqrt(10))
    text = CORPUS.read_text()
    ll = ref.rolling(text)
    words, nbytes = len(re.split(r"\s+", text)), len(text.encode())
    rolled = got["results"]["corpus.txt"]
    assert rolled["word_perplexity"] == pytest.approx(math.exp(-ll / words), rel=1e-6)
    assert rolled["byte_perplexity"] == pytest.approx(math.exp(-ll / nbytes), rel=1e-6)
    assert rolled["bits_per_byte"] == pytest.approx(-ll / nbytes / math.log(2), rel=1e-6)
    assert got["generation"]["decode_tokens_per_s"] > 0
    assert "acc_norm" in r.stdout and "tokens/s" in r.stdout


def test_benchmark_bad_task_file(model, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"context": "a", "choices": ["b"], "gold": 0}\n{"context": "a", "gold": 0}\n')
    r = subprocess.run([CLI, "benchmark", "-m", str(model), "--tasks", str(bad), "--gen_tokens", "0"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 1
    assert "bad.jsonl:2" in r.stderr, r.stderr
    r = subprocess.run([CLI, "benchmark", "-m", str(model), "--tasks", str(tmp_path / "missing.txt")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 1 and "missing.txt" in r.stderr
