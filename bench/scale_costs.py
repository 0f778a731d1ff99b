#!/usr/bin/env python3
"""Per-candidate costs of a search, measured with the `olive` CLI, for bench/scale_sim.py.

A search candidate is one `olive run` of the search's pass chain with one point of its space,
through a cache that already holds the converted model (the base every candidate shares). For
each model this measures, each in a fresh process:

- convert: the checkpoint to ONNX into an empty cache (once per search);
- per candidate (bits 4/8 x block_size 32/64/128 of OnnxBlockWiseRtnQuantization), each on its
  own copy of the converted cache:
  - cold: quantize + evaluate, the candidate's real run: wall time, the quantize pass's own
    seconds (from the run's report), the bytes it added to the cache, and the bytes it moved
    through read(2) / write(2) (rchar / wchar of /proc/<pid>/io, which Linux adds to the
    parent's when it reaps the child);
  - cold without the evaluator, on another copy: its difference to the cold run is the
    evaluation's time;
  - hit: the same run again: every pass is a cache hit, whose entries are verified (read whole).
- the fixed cost of starting the CLI (`olive run --help`).

Models: the BERT classifier of tests/data/convert_encoder (accuracy and latency on
tests/data/evaluate's classification data), the Llama decoder of tests/data/convert (size on
disk), and a synthetic stack of float MatMuls (--synthetic-mib, default 32 MiB of weights; size
on disk) whose costs are dominated by the bytes rather than by process start, so that the
simulator can scale per-byte costs to big models.

Writes bench/out/scale/costs.json (or --out). Timings are reported, never asserted; the script
exits non-zero only when a run fails.

  .venv/bin/python bench/scale_costs.py [--olive build/examples/olive/olive] [--synthetic-mib 32]
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "tests", "data")
OUT = os.path.join(REPO, "bench", "out", "scale")
SPACE = [(bits, block) for bits in (4, 8) for block in (32, 64, 128)]


def proc_io():
    with open("/proc/self/io") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f)}


def run(argv, cwd):
    """Runs argv in a fresh process, its output in files (so that this process reads nothing
    while it runs). Returns wall seconds, rchar, wchar of the child, stdout and stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        before = proc_io()
        t0 = time.perf_counter()
        rc = subprocess.call(argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        after = proc_io()
        out.seek(0)
        err.seek(0)
        so, se = out.read(), err.read()
    if rc != 0:
        sys.exit(f"{' '.join(argv)} failed ({rc}):\n{se[-3000:]}")
    return wall, after["rchar"] - before["rchar"], after["wchar"] - before["wchar"], so, se


def tree_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def pass_seconds(stdout, slot):
    m = re.search(rf"^{re.escape(slot)}\s+\S+\s+(run|hit)\s+([0-9.]+)$", stdout, re.M)
    return float(m.group(2)) if m else None


def size_evaluator():
    return {"e": {"metrics": [{"name": "size", "type": "size_on_disk", "sub_types": [
        {"name": "size_on_disk", "priority": 1, "higher_is_better": False}]}]}}


def classifier_evaluator():
    ev = os.path.join(DATA, "evaluate")
    data = [{"name": "cls", "type": "HuggingfaceContainer",
             "load_dataset_config": {"data_name": "json", "data_files": os.path.join(ev, "classify.jsonl"),
                                     "split": "train"},
             "pre_process_data_config": {"model_name": os.path.join(ev, "wp_tokenizer"), "input_cols": ["sentence"],
                                         "label_col": "label"},
             "post_process_data_config": {"type": "text_classification_post_process", "output_name": "logits"},
             "dataloader_config": {"batch_size": 8}}]
    evaluators = {"e": {"metrics": [
        {"name": "accuracy", "type": "accuracy", "data_config": "cls",
         "sub_types": [{"name": "accuracy_score", "priority": 1,
                        "metric_config": {"task": "multiclass", "num_classes": 3}}]},
        {"name": "latency", "type": "latency", "data_config": "cls",
         "sub_types": [{"name": "avg", "priority": 2, "metric_config": {"warmup_num": 1, "repeat_test_num": 4}}]}]}}
    return data, evaluators


def make_synthetic(folder, mib):
    """A stack of 1024x1024 float MatMuls holding `mib` MiB of weights, in external data."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    path = os.path.join(folder, "model.onnx")
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    n, layers = 1024, max(1, mib // 4)
    rng = np.random.default_rng(0)
    inits, nodes, x = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array((rng.standard_normal((n, n)) * 0.02).astype(np.float32), f"w{i}"))
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"], name=f"mm{i}"))
        x = f"h{i}"
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", n])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["b", n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx.data")
    return path


def measure_model(olive, name, input_model, convert, evaluators, data_configs, work):
    """convert (when given) once, then every candidate of SPACE cold, cold without evaluator,
    and as cache hits."""
    base_cache = os.path.join(work, "base-cache")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    def config(path, passes, cache, with_eval=True):
        cfg = {"input_model": input_model, "passes": passes, "engine": {"cache_dir": cache}}
        if with_eval:
            cfg["evaluators"] = evaluators
            cfg["engine"]["evaluator"] = "e"
            if data_configs:
                cfg["data_configs"] = data_configs
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    first = {"convert": convert} if convert else {}
    result = {"model": name}
    if convert:
        cfg = config(os.path.join(work, "convert.json"), first, base_cache, with_eval=False)
        wall, rchar, wchar, so, _ = run([olive, "run", "--config", cfg], work)
        result["convert"] = {"wall_s": wall, "pass_s": pass_seconds(so, "convert"), "rchar": rchar, "wchar": wchar,
                             "cache_bytes_written": tree_bytes(os.path.join(base_cache, "runs"))}
    else:
        os.makedirs(os.path.join(base_cache, "runs"))
    base_bytes = tree_bytes(os.path.join(base_cache, "runs"))
    result["base_entry_bytes"] = base_bytes
    # The model every candidate starts from: the converted entry, or the ONNX input itself.
    result["input_bytes"] = base_bytes or tree_bytes(os.path.dirname(input_model["model_path"]))
    cands = []
    for bits, block in SPACE:
        passes = dict(first, quant={"type": "OnnxBlockWiseRtnQuantization", "bits": bits, "block_size": block})
        tag = f"b{bits}-k{block}"
        cold_cache, plain_cache = os.path.join(work, f"{tag}-cache"), os.path.join(work, f"{tag}-plain-cache")
        shutil.copytree(base_cache, cold_cache)
        shutil.copytree(base_cache, plain_cache)
        cfg = config(os.path.join(work, f"{tag}.json"), passes, cold_cache)
        plain = config(os.path.join(work, f"{tag}-plain.json"), passes, plain_cache, with_eval=False)
        before = tree_bytes(cold_cache)
        wall, rchar, wchar, so, _ = run([olive, "run", "--config", cfg], work)
        written = tree_bytes(cold_cache) - before
        pwall, _, _, _, _ = run([olive, "run", "--config", plain], work)
        hwall, hrchar, hwchar, hso, _ = run([olive, "run", "--config", cfg], work)
        cands.append({"bits": bits, "block_size": block, "wall_s": wall, "quantize_s": pass_seconds(so, "quant"),
                      "evaluate_s": max(0.0, wall - pwall), "cache_bytes_written": written, "rchar": rchar,
                      "wchar": wchar, "hit_wall_s": hwall, "hit_rchar": hrchar, "hit_wchar": hwchar})
        shutil.rmtree(cold_cache)
        shutil.rmtree(plain_cache)
    result["candidates"] = cands
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--olive", default=os.environ.get("OLIVE_CLI", os.path.join(REPO, "build", "examples", "olive",
                                                                                  "olive")))
    ap.add_argument("--synthetic-mib", type=int, default=32)
    ap.add_argument("--out", default=os.path.join(OUT, "costs.json"))
    args = ap.parse_args()
    olive = os.path.abspath(args.olive)
    os.makedirs(OUT, exist_ok=True)
    work = os.path.join(OUT, "work")
    starts = [run([olive, "run", "--help"], OUT)[0] for _ in range(5)]
    data, cls_eval = classifier_evaluator()
    models = [
        ("bert_seqcls", {"type": "HfModel", "model_path": os.path.join(DATA, "convert_encoder", "bert_seqcls")},
         {"type": "OnnxConversion"}, cls_eval, data),
        ("llama", {"type": "HfModel", "model_path": os.path.join(DATA, "convert", "llama")},
         {"type": "ModelBuilder", "precision": "fp32"}, size_evaluator(), None),
        (f"synthetic_{args.synthetic_mib}mib",
         {"type": "ONNXModel", "model_path": make_synthetic(os.path.join(OUT, f"synthetic-{args.synthetic_mib}"),
                                                            args.synthetic_mib)},
         None, size_evaluator(), None),
    ]
    doc = {"command": " ".join([os.path.relpath(sys.executable, REPO) if sys.executable.startswith(REPO)
                                else "python", "bench/scale_costs.py"] + sys.argv[1:]),
           "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                       "system": platform.platform()},
           "process_start_s": statistics.median(starts), "models": {}}
    for name, inp, convert, evaluators, data_configs in models:
        print(f"measuring {name} ...", flush=True)
        doc["models"][name] = measure_model(olive, name, inp, convert, evaluators, data_configs,
                                            os.path.join(work, name))
    shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"process start (olive run --help): {doc['process_start_s'] * 1000:.1f} ms")
    print(f"{'model':<18} {'convert s':>9} {'input MiB':>9} {'cand s':>7} {'quant s':>8} {'eval s':>7} "
          f"{'hit s':>6} {'written KiB':>11} {'read KiB':>9} {'hit read KiB':>12}")
    for name, m in doc["models"].items():
        c = m["candidates"]
        med = lambda k: statistics.median(x[k] for x in c)  # noqa: E731
        conv = m.get("convert", {}).get("wall_s")
        print(f"{name:<18} {conv if conv is not None else float('nan'):>9.3f} {m['input_bytes'] / 2**20:>9.2f} "
              f"{med('wall_s'):>7.3f} {med('quantize_s'):>8.3f} {med('evaluate_s'):>7.3f} {med('hit_wall_s'):>6.3f} "
              f"{med('cache_bytes_written') / 1024:>11.1f} {med('rchar') / 1024:>9.1f} {med('hit_rchar') / 1024:>12.1f}")
    print(f"(medians over {len(SPACE)} candidates; written to {os.path.relpath(args.out, REPO)})")


if __name__ == "__main__":
    main()
