#!/usr/bin/env python3
"""A search (`olive run --config` with search_strategy): libolive against Olive, on the same
config and the same machine, each in a fresh process with an empty cache.

The model is the small BERT classifier of tests/data/convert_encoder (converted to ONNX once by
libolive and cached under bench/out/, its one output `logits`, as Olive's
text_classification_post_process expects), with accuracy (priority 1) and latency (priority 2)
on tests/data/evaluate's classification data, and a space over OnnxBlockWiseRtnQuantization's
bits 4/8 x block_size 32/64/128 x accuracy_level 0/4 (12 candidates) with the sequential
sampler, so that both tools evaluate the same candidates in the same order. (A space that also
switches a fusion pass on and off, as tests/integration/test_search.py does, makes Olive 0.13
fail every candidate that reuses a cached pass run: its FootprintNode has no `model_config`
field.)

Prints wall time and peak RSS of each, the ratio Olive / libolive, the candidates each
evaluated, whether they are the same points in the same order with the same accuracy, and
whether the Pareto frontiers agree. Latency is measured by each tool, and every candidate of
this tiny model has the same accuracy, so the frontiers rank on latency and differ by noise:
the script reports, never fails, on that. A second run of both tools with accuracy as the only
objective (deterministic) compares their frontiers again: those must be the same.

Olive needs torch and transformers: pass the Python of such an environment with
--olive-python (scripts/olive-peer-env.sh makes one); without it only libolive runs.

  .venv/bin/python bench/search.py [--olive-python .olive-peer/bin/python]
"""
import argparse
import json
import os
import subprocess
import sys

from measure import build_type, gnu_time_works, mib, run_measured

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "bench", "out", "search")
DATA = os.path.join(REPO, "tests", "data")


def cat(*values):
    return {"olive_parameter_type": "SearchParameter", "type": "Categorical", "support": list(values)}


def config(model, out, cache, accuracy_only=False):
    ev = os.path.join(DATA, "evaluate")
    return {"input_model": {"type": "ONNXModel", "model_path": model},
            "systems": {"local_system": {"type": "LocalSystem", "accelerators": [
                {"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
            "data_configs": [{"name": "cls", "type": "HuggingfaceContainer",
                              "load_dataset_config": {"data_name": "json",
                                                      "data_files": os.path.join(ev, "classify.jsonl"),
                                                      "split": "train"},
                              "pre_process_data_config": {"model_name": os.path.join(ev, "wp_tokenizer"),
                                                          "task": "text-classification",
                                                          "input_cols": ["sentence"], "label_col": "label"},
                              "post_process_data_config": {"type": "text_classification_post_process",
                                                           "task": "text-classification",
                                                           "output_name": "logits"},
                              "dataloader_config": {"batch_size": 8}}],
            "evaluators": {"e": {"metrics": [
                {"name": "accuracy", "type": "accuracy", "data_config": "cls",
                 "sub_types": [{"name": "accuracy_score", "priority": 1,
                                "metric_config": {"task": "multiclass", "num_classes": 3}}]},
                {"name": "latency", "type": "latency", "data_config": "cls",
                 "sub_types": [{"name": "avg", "priority": 2,
                                "metric_config": {"warmup_num": 1, "repeat_test_num": 4}}]}][:1 if accuracy_only else 2]}},
            "passes": {"quantization": {"type": "OnnxBlockWiseRtnQuantization", "bits": cat(4, 8),
                                        "block_size": cat(32, 64, 128), "accuracy_level": cat(0, 4)}},
            "engine": {"evaluator": "e", "host": "local_system", "target": "local_system",
                       "output_dir": out, "cache_dir": cache, "evaluate_input_model": True,
                       "search_strategy": {"execution_order": "joint", "sampler": "sequential"}}}


def only_logits(path):
    """Olive's text_classification_post_process takes a model with one output: the classifier's
    hidden-state output is dropped so that both tools evaluate the same single-output model."""
    import onnx
    m = onnx.load(path)
    keep = [o for o in m.graph.output if o.name == "logits"]
    del m.graph.output[:]
    m.graph.output.extend(keep)
    onnx.save(m, path)


def candidates(out):
    """[(bits, block_size, accuracy_level), accuracy, on the frontier] per evaluated candidate,
    in the order the tool ran them, from its footprint.json (both tools key nodes by model id;
    Olive's nodes keep their pass config in pass_run_config, libolive's in config)."""
    path = os.path.join(out, "footprint.json")
    if not os.path.exists(path):
        return []
    nodes = json.load(open(path))
    nodes = nodes.get("nodes", nodes)
    rows = []
    order = list(nodes.values())
    if all(isinstance(n.get("start_time"), (int, float)) for n in order):  # Olive's: epoch seconds
        order.sort(key=lambda n: n["start_time"])
    for n in order:
        cfg = n.get("pass_run_config") or n.get("config")
        metrics = (n.get("metrics") or {}).get("value") or {}
        if not cfg or "accuracy-accuracy_score" not in metrics:
            continue
        rows.append(((cfg["bits"], cfg["block_size"], cfg["accuracy_level"]),
                     metrics["accuracy-accuracy_score"]["value"], bool(n.get("is_pareto_frontier"))))
    frontier = os.path.join(out, "pareto_frontier_footprint.json")
    if os.path.exists(frontier):  # libolive flags its frontier in its own file
        front = json.load(open(frontier))
        front = front.get("nodes", front)
        ids = {cfg_key(n) for n in front.values()}
        rows = [(p, a, p in ids) for p, a, _ in rows]
    return rows


def cfg_key(n):
    """A frontier node's point: Olive's pass config, or libolive's search_point text
    ("quantization.bits=4 quantization.block_size=64 quantization.accuracy_level=0")."""
    cfg = n.get("pass_run_config") or n.get("config")
    if not cfg:
        cfg = {kv.split("=")[0].split(".")[-1]: int(kv.split("=")[1]) for kv in n.get("search_point", "").split()}
    return (cfg.get("bits"), cfg.get("block_size"), cfg.get("accuracy_level"))


def run_tools(args, model, gnu, accuracy_only):
    """Runs the search with each tool in a fresh process and an empty cache:
    [(tool, wall s, peak RSS bytes, candidates)]."""
    rows = []
    for name, argv_of in (("libolive", lambda cfg: [args.olive, "run", "--config", cfg, "--log_level", "1"]),
                          ("Olive", lambda cfg: [args.olive_python, "-m", "olive", "run", "--config", cfg])):
        if name == "Olive" and not args.olive_python:
            print("Olive: skipped (no --olive-python)")
            continue
        work = os.path.join(OUT, name.lower() + ("-accuracy" if accuracy_only else ""))
        subprocess.run(["rm", "-rf", work])
        os.makedirs(work)
        out, cache = os.path.join(work, "out"), os.path.join(work, "cache")
        cfg = os.path.join(work, "config.json")
        json.dump(config(model, out, cache, accuracy_only), open(cfg, "w"), indent=1)
        wall, rss, so, se, rc = run_measured(argv_of(cfg), gnu)
        if rc != 0:
            print(f"{name}: failed (exit {rc}):\n{se[-2000:]}")
            if name == "libolive":
                sys.exit(1)
            continue
        rows.append((name, wall, rss, candidates(out)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--olive", default=os.environ.get("OLIVE_CLI", os.path.join(REPO, "build", "examples", "olive",
                                                                                  "olive")))
    ap.add_argument("--olive-python", help="a Python with olive-ai (and torch) installed")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    model = os.path.join(OUT, "bert")
    if not os.path.exists(os.path.join(model, "model.onnx")):
        subprocess.run([args.olive, "run-pass", "--pass", "convert", "-m",
                        os.path.join(DATA, "convert_encoder", "bert_seqcls"), "-o", model,
                        "--param", "precision=fp32"], check=True)
        only_logits(os.path.join(model, "model.onnx"))
    gnu = gnu_time_works()
    rows = run_tools(args, model, gnu, accuracy_only=False)
    print(f"\nsearch over 12 candidates, accuracy and latency ({build_type(args.olive)} libolive build)")
    print(f"{'tool':<10} {'wall s':>8} {'peak RSS MiB':>13} {'evaluated':>10}")
    for name, wall, rss, cands in rows:
        print(f"{name:<10} {wall:>8.2f} {mib(rss):>13.1f} {len(cands):>10}")
    if len(rows) == 2:
        (_, lw, lr, lc), (_, ow, orss, oc) = rows
        print(f"Olive / libolive wall time: {ow / lw:.1f}x, peak RSS: {orss / lr:.1f}x")
        print("same candidates in the same order:", [c[0] for c in lc] == [c[0] for c in oc])
        print("same accuracy per candidate:", len(lc) == len(oc)
              and all(abs(a[1] - b[1]) < 1e-6 for a, b in zip(lc, oc)))
        lf, of = sorted(c[0] for c in lc if c[2]), sorted(c[0] for c in oc if c[2])
        print(f"Pareto frontier: libolive {lf}, Olive {of}: {'same' if lf == of else 'differs (latency noise)'}")
        # The frontier again with accuracy alone, which is deterministic: it must be the same.
        rows = run_tools(args, model, gnu, accuracy_only=True)
        if len(rows) == 2:
            lf, of = (sorted(c[0] for c in r[3] if c[2]) for r in rows)
            print(f"Pareto frontier with accuracy alone: libolive {lf}, Olive {of}: "
                  f"{'same' if lf == of else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
