"""Records metric references: seeded predictions and targets, and what torchmetrics (Olive's
torch_metrics backend, called the way Olive's olive/evaluator/accuracy.py calls it),
scikit-learn (the `evaluate` library's accuracy/f1/precision/recall) and numpy (Olive's latency
helper) compute from them. Writes refs.json beside this script.

Needs torch, torchmetrics and scikit-learn (the fixture environment plus
`pip install torchmetrics==1.9.0 scikit-learn==1.9.1`); the tests only read refs.json.
"""
import json
import os

import numpy as np
import sklearn.metrics as skm
import torch
import torchmetrics

IGNORE_INDEX = -100
rng = np.random.default_rng(20261207)
cases = []


def olive_kwargs(cfg):
    # Olive's defaults for a torchmetrics class: task binary, ignore_index IGNORE_INDEX.
    kw = {"task": "binary", "ignore_index": IGNORE_INDEX}
    kw.update(cfg)
    return kw


def value(t):
    t = t.detach().cpu()
    return t.item() if t.numel() == 1 and t.ndim == 0 else t.tolist()


def stat_case(sub, cfg, preds, target):
    cls = {"accuracy_score": torchmetrics.Accuracy, "f1_score": torchmetrics.F1Score,
           "precision": torchmetrics.Precision, "recall": torchmetrics.Recall}[sub]
    m = cls(**olive_kwargs(cfg))
    m.update(torch.tensor(preds, dtype=torch.int), torch.tensor(target, dtype=torch.int))
    cases.append({"backend": "torch_metrics", "sub_type": sub, "metric_config": cfg, "preds": preds.tolist(),
                  "target": target.tolist(), "expected": value(m.compute())})


def auroc_case(cfg, scores, target):
    kw = olive_kwargs(cfg)
    m = torchmetrics.AUROC(**kw)
    logits = torch.tensor(scores, dtype=torch.float)
    if kw["task"] == "binary" and logits.ndim > 1 and logits.shape[-1] == 2:
        logits = torch.softmax(logits, dim=-1)[:, 1]
    t = torch.tensor(target, dtype=torch.int32)
    m.update(logits, t.flatten() if kw["task"] != "multilabel" else t)
    cases.append({"backend": "torch_metrics", "sub_type": "auroc", "metric_config": cfg,
                  "scores": np.asarray(scores, dtype=np.float32).tolist(), "target": target.tolist(),
                  "expected": value(m.compute())})


def with_ignored(target, frac=0.1):
    t = target.copy()
    mask = rng.random(t.shape) < frac
    t[mask] = IGNORE_INDEX
    return t


# binary
n = 40
bt = rng.integers(0, 2, n)
bp = np.where(rng.random(n) < 0.7, bt, 1 - bt)
for sub in ["accuracy_score", "f1_score", "precision", "recall"]:
    stat_case(sub, {}, bp, with_ignored(bt))
    stat_case(sub, {"task": "binary", "ignore_index": None}, bp, bt)
# zero division: nothing predicted positive
stat_case("precision", {}, np.zeros(8, dtype=np.int64), np.array([0, 1, 0, 1, 0, 0, 1, 0]))
stat_case("f1_score", {}, np.zeros(8, dtype=np.int64), np.zeros(8, dtype=np.int64))
logits2 = rng.normal(size=(n, 2)).astype(np.float32)
auroc_case({}, logits2, bt)
auroc_case({}, logits2[:, 0] * 3, with_ignored(bt))
auroc_case({"task": "binary"}, np.round(rng.random(n), 1).astype(np.float32), bt)  # ties

# multiclass: class 4 of 5 never occurs in preds or targets
c = 5
mt = rng.integers(0, 4, 60)
mp = np.where(rng.random(60) < 0.6, mt, rng.integers(0, 4, 60))
for sub in ["accuracy_score", "f1_score", "precision", "recall"]:
    for avg in ["micro", "macro", "weighted", "none"]:
        stat_case(sub, {"task": "multiclass", "num_classes": c, "average": avg}, mp, with_ignored(mt))
mlog = rng.normal(size=(60, c)).astype(np.float32) + np.eye(c, dtype=np.float32)[mt] * 1.5
for avg in ["macro", "weighted", "none"]:
    auroc_case({"task": "multiclass", "num_classes": c, "average": avg}, mlog[:, :c], with_ignored(mt))
probs = np.exp(mlog) / np.exp(mlog).sum(1, keepdims=True)
auroc_case({"task": "multiclass", "num_classes": c}, probs.astype(np.float32), mt)

# multilabel
nl = 3
lt = rng.integers(0, 2, (30, nl))
lp = np.where(rng.random((30, nl)) < 0.75, lt, 1 - lt)
for sub in ["accuracy_score", "f1_score", "precision", "recall"]:
    for avg in ["micro", "macro", "weighted", "none"]:
        stat_case(sub, {"task": "multilabel", "num_labels": nl, "average": avg}, lp, with_ignored(lt))
llog = rng.normal(size=(30, nl)).astype(np.float32) + lt * 1.0
for avg in ["micro", "macro", "weighted", "none"]:
    auroc_case({"task": "multilabel", "num_labels": nl, "average": avg}, llog, with_ignored(lt))

# huggingface_metrics (evaluate = scikit-learn)
for name, fn in [("accuracy", skm.accuracy_score), ("f1", skm.f1_score), ("precision", skm.precision_score),
                 ("recall", skm.recall_score)]:
    if name == "accuracy":
        cases.append({"backend": "huggingface_metrics", "sub_type": name, "compute_params": {}, "preds": bp.tolist(),
                      "target": bt.tolist(), "expected": float(fn(bt, bp))})
        continue
    cases.append({"backend": "huggingface_metrics", "sub_type": name, "compute_params": {}, "preds": bp.tolist(),
                  "target": bt.tolist(), "expected": float(fn(bt, bp, zero_division=0))})
    for avg in ["micro", "macro", "weighted"]:
        cases.append({"backend": "huggingface_metrics", "sub_type": name, "compute_params": {"average": avg},
                      "preds": mp.tolist(), "target": mt.tolist(),
                      "expected": float(fn(mt, mp, average=avg, zero_division=0))})

# perplexity: two windows, the first positions ignored as a sliding window's context is
vocab, t = 11, 7
ppl_logits = (rng.normal(size=(2, t, vocab)) * 2).astype(np.float32)
ppl_labels = rng.integers(0, vocab, (2, t))
ppl_labels[1, :3] = IGNORE_INDEX
m = torchmetrics.text.Perplexity(ignore_index=IGNORE_INDEX)
lg, tg = torch.tensor(ppl_logits), torch.tensor(ppl_labels, dtype=torch.long)
m.update(lg[..., :-1, :], tg[..., 1:])
cases.append({"sub_type": "perplexity", "logits": ppl_logits.tolist(), "labels": ppl_labels.tolist(),
              "expected": value(m.compute())})

# latency: Olive's latency_helper and compute_throughput
lat = (rng.gamma(4.0, 0.002, 37) + 0.001).tolist()
lat_ref = {
    "avg": round(sum(lat) / len(lat) * 1000, 5), "max": round(max(lat) * 1000, 5), "min": round(min(lat) * 1000, 5),
    **{f"p{q}": round(np.percentile(lat, float(q if q != 999 else 99.9)) * 1000, 5)
       for q in [50, 75, 90, 95, 99, 999]}}
thr_ref = {}
for sub in lat_ref:
    src = "max" if sub == "min" else "min" if sub == "max" else sub
    thr_ref[sub] = round(4 / lat_ref[src] * 1000, 5)
cases.append({"sub_type": "latency", "seconds": lat, "expected": lat_ref, "throughput_batch_size": 4,
              "throughput": thr_ref})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "refs.json")
with open(out, "w") as f:
    json.dump({"torchmetrics": torchmetrics.__version__, "sklearn": skm.__name__ and __import__("sklearn").__version__,
               "numpy": np.__version__, "cases": cases}, f)
    f.write("\n")
print(f"{len(cases)} cases -> {out}")
