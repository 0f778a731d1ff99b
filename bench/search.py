#!/usr/bin/env python3
"""A search (`olive run --config` with search_strategy): libolive against Olive, on the same
config and the same machine, each in a fresh process with an empty cache.

The config is the one tests/integration/test_search.py checks: the small BERT classifier of
tests/data/convert_encoder (converted to ONNX once by libolive, cached under bench/out/),
accuracy (priority 1) and latency (priority 2) on tests/data/evaluate's classification data,
and a space over fusion on/off x quantization bits 4/8 x block_size 32/64/128 (12 candidates)
with the sequential sampler, so that both tools evaluate the same candidates.

Prints wall time and peak RSS of each, the ratio Olive / libolive, the number of candidates
each evaluated, and whether their Pareto frontiers (as sets of search points) agree. Latency
is measured by each tool, so frontiers that rank on latency may differ by noise: the script
reports, never fails, on that.

Olive needs torch and transformers: pass the Python of such an environment with
--olive-python (with olive-ai installed); without it only libolive runs.

  .venv/bin/python bench/search.py [--olive-python /path/to/olive-env/bin/python]
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


def config(model, out, cache):
    ev = os.path.join(DATA, "evaluate")
    return {"input_model": {"type": "ONNXModel", "model_path": model},
            "systems": {"local_system": {"type": "LocalSystem", "accelerators": [
                {"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
            "data_configs": [{"name": "cls", "type": "HuggingfaceContainer",
                              "load_dataset_config": {"data_name": "json",
                                                      "data_files": os.path.join(ev, "classify.jsonl"),
                                                      "split": "train"},
                              "pre_process_data_config": {"model_name": os.path.join(ev, "wp_tokenizer"),
                                                          "input_cols": ["sentence"], "label_col": "label"},
                              "post_process_data_config": {"type": "text_classification_post_process",
                                                           "output_name": "logits"},
                              "dataloader_config": {"batch_size": 8}}],
            "evaluators": {"e": {"metrics": [
                {"name": "accuracy", "type": "accuracy", "data_config": "cls",
                 "sub_types": [{"name": "accuracy_score", "priority": 1,
                                "metric_config": {"task": "multiclass", "num_classes": 3}}]},
                {"name": "latency", "type": "latency", "data_config": "cls",
                 "sub_types": [{"name": "avg", "priority": 2,
                                "metric_config": {"warmup_num": 1, "repeat_test_num": 4}}]}]}},
            "passes": {"fusion": [{"type": "OrtTransformersOptimization"}, {"type": "OnnxPeepholeOptimizer"}],
                       "quantization": {"type": "OnnxBlockWiseRtnQuantization", "bits": cat(4, 8),
                                        "block_size": cat(32, 64, 128)}},
            "engine": {"evaluator": "e", "host": "local_system", "target": "local_system",
                       "output_dir": out, "cache_dir": cache, "evaluate_input_model": True,
                       "search_strategy": {"execution_order": "joint", "sampler": "sequential"}}}


def frontier_points(out):
    path = os.path.join(out, "pareto_frontier_footprint.json")
    if not os.path.exists(path):
        return None
    nodes = json.load(open(path)).get("nodes", {})
    return sorted(json.dumps(n.get("search_point", n.get("from_pass")), sort_keys=True) for n in nodes.values())


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
    gnu = gnu_time_works()
    rows = []
    for name, argv_of in (("libolive", lambda cfg: [args.olive, "run", "--config", cfg, "--log_level", "1"]),
                          ("Olive", lambda cfg: [args.olive_python, "-m", "olive", "run", "--config", cfg])):
        if name == "Olive" and not args.olive_python:
            print("Olive: skipped (no --olive-python)")
            continue
        work = os.path.join(OUT, name.lower())
        subprocess.run(["rm", "-rf", work])
        os.makedirs(work)
        out, cache = os.path.join(work, "out"), os.path.join(work, "cache")
        cfg = os.path.join(work, "config.json")
        json.dump(config(model, out, cache), open(cfg, "w"), indent=1)
        wall, rss, so, se, rc = run_measured(argv_of(cfg), gnu)
        log = so + se
        if rc != 0:
            print(f"{name}: failed (exit {rc}):\n{se[-2000:]}")
            if name == "libolive":
                sys.exit(1)
            continue
        evaluated = log.count("evaluating fusion=") if name == "libolive" else None
        rows.append((name, wall, rss, evaluated, frontier_points(out)))
    print(f"\nsearch over 12 candidates ({build_type(args.olive)} libolive build)")
    print(f"{'tool':<10} {'wall s':>8} {'peak RSS MiB':>13} {'evaluated':>10}")
    for name, wall, rss, ev, _ in rows:
        print(f"{name:<10} {wall:>8.2f} {mib(rss):>13.1f} {ev if ev is not None else '-':>10}")
    if len(rows) == 2:
        print(f"Olive / libolive wall time: {rows[1][1] / rows[0][1]:.1f}x")
        print("same Pareto frontier:", rows[0][4] == rows[1][4])


if __name__ == "__main__":
    main()
