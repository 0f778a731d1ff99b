"""Search in workflows (`olive run --config` with search_strategy): a small BERT classifier,
accuracy and latency objectives, a space over quantization (bits 4/8 x block_size 32/64/128)
and fusion on/off. Checked from what the run recorded (latencies are noisy, so the frontier
logic is checked on the recorded metrics, never on timings): the Pareto frontier equals the
brute-force one, goals prune what they should, a second identical run evaluates nothing, and
bad search configs fail clearly and write nothing.
"""

import json
import os
import pathlib
import re
import subprocess
import types

import pytest
from olive_reference import import_olive

pytest.importorskip("onnxruntime")

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
EV = DATA / "evaluate"
ACC, LAT = "accuracy-accuracy_score", "latency-avg"


def olive(*args, cwd):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def cat(*values):
    return {"olive_parameter_type": "SearchParameter", "type": "Categorical", "support": list(values)}


@pytest.fixture(scope="module")
def onnx_input(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    r = olive("run-pass", "--pass", "convert", "-m", DATA / "convert_encoder" / "bert_seqcls", "-o", d / "model",
              "--param", "precision=fp32", cwd=d)
    assert r.returncode == 0, r.stderr
    return d / "model"


def config(model, goal=None, strategy=None):
    acc = {"name": "accuracy_score", "priority": 1, "metric_config": {"task": "multiclass", "num_classes": 3}}
    if goal:
        acc["goal"] = goal
    return {"input_model": {"type": "ONNXModel", "model_path": str(model)},
            "data_configs": [{"name": "cls", "type": "HuggingfaceContainer",
                              "load_dataset_config": {"data_name": "json", "data_files": str(EV / "classify.jsonl"),
                                                      "split": "train"},
                              "pre_process_data_config": {"model_name": str(EV / "wp_tokenizer"),
                                                          "input_cols": ["sentence"], "label_col": "label"},
                              "post_process_data_config": {"type": "text_classification_post_process",
                                                           "output_name": "logits"},
                              "dataloader_config": {"batch_size": 8}}],
            "evaluators": {"e": {"metrics": [
                {"name": "accuracy", "type": "accuracy", "data_config": "cls", "sub_types": [acc]},
                {"name": "latency", "type": "latency", "data_config": "cls",
                 "sub_types": [{"name": "avg", "priority": 2, "metric_config": {"warmup_num": 1, "repeat_test_num": 2}}]}]}},
            "passes": {"fusion": [{"type": "OrtTransformersOptimization"}, {"type": "OnnxPeepholeOptimizer"}],
                       "quantization": {"type": "OnnxBlockWiseRtnQuantization", "bits": cat(4, 8),
                                        "block_size": cat(32, 64, 128)}},
            "engine": {"evaluator": "e", "output_dir": "out", "cache_dir": "cache",
                       "search_strategy": strategy or {"execution_order": "joint", "sampler": "sequential"}}}


def run(tmp_path, cfg, *extra):
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return olive("run", "--config", "config.json", "--log_level", "1", *extra, cwd=tmp_path)


def candidates(out):
    """The quantization nodes of footprint.json: one per candidate, with its recorded metrics."""
    fp = json.loads((out / "footprint.json").read_text())
    nodes = fp["nodes"] if "nodes" in fp else fp
    return {k: n for k, n in nodes.items() if n.get("slot") == "quantization"}


def brute_front(cands):
    ok = {k: (n["metrics"]["value"][ACC]["value"], n["metrics"]["value"][LAT]["value"]) for k, n in cands.items()
          if n["metrics"]["if_goals_met"]}
    return {k for k, (a, l) in ok.items()
            if not any(a2 >= a and l2 <= l and (a2 > a or l2 < l) for k2, (a2, l2) in ok.items() if k2 != k)}


def test_frontier_and_cache(tmp_path, onnx_input):
    r = run(tmp_path, config(onnx_input))
    assert r.returncode == 0, r.stderr
    log = r.stdout + r.stderr
    out = tmp_path / "out"
    cands = candidates(out)
    assert len(cands) == 12  # 2 fusions x 2 bit widths x 3 block sizes
    configs = {(n["config"]["bits"], n["config"]["block_size"]) for n in cands.values()}
    assert configs == {(b, s) for b in (4, 8) for s in (32, 64, 128)}
    front = json.loads((out / "pareto_frontier_footprint.json").read_text())
    assert set(front["nodes"]) == brute_front(cands)
    assert front["objective_dict"][ACC]["higher_is_better"] is True and front["objective_dict"][LAT]["priority"] == 2
    # The best is the most accurate candidate, ties broken by latency, as Olive orders by priority.
    metrics = json.loads((out / "metrics.json").read_text())
    best = max(cands.values(), key=lambda n: (n["metrics"]["value"][ACC]["value"], -n["metrics"]["value"][LAT]["value"]))
    assert metrics[ACC]["value"] == best["metrics"]["value"][ACC]["value"]
    assert log.count("candidate ") >= 12 and "Pareto frontier" in log
    assert log.count("not evaluated again") == 0 and log.count("evaluating fusion=") == 12

    # Identical second run: every pass and every evaluation comes from the cache.
    r2 = run(tmp_path, config(onnx_input))
    assert r2.returncode == 0, r2.stderr
    log2 = r2.stdout + r2.stderr
    assert log2.count("not evaluated again") == 12
    assert "evaluating fusion=" not in log2 and "quantization (quantize): run" not in log2


def size_config(model, goal=None):
    """Accuracy and size on disk (deterministic, unlike latency) as the objectives."""
    cfg = config(model)
    size = {"name": "size_on_disk", "priority": 2, "higher_is_better": False}
    if goal:
        size["goal"] = goal
    cfg["evaluators"]["e"]["metrics"][1] = {"name": "size", "type": "size_on_disk", "sub_types": [size]}
    return cfg


def test_goal_prunes(tmp_path, onnx_input):
    SIZE = "size-size_on_disk"
    (tmp_path / "a").mkdir()
    r = run(tmp_path / "a", size_config(onnx_input))
    assert r.returncode == 0, r.stderr
    sizes = {(n["config"]["bits"], n["config"]["block_size"], n["parent"]): n["metrics"]["value"][SIZE]["value"]
             for n in candidates(tmp_path / "a" / "out").values()}
    distinct = sorted(set(sizes.values()))
    assert len(distinct) >= 2
    limit = distinct[len(distinct) // 2 - 1]  # some candidates are larger, some are not
    (tmp_path / "b").mkdir()
    r = run(tmp_path / "b", size_config(onnx_input, goal={"type": "threshold", "value": limit}))
    assert r.returncode == 0, r.stderr
    cands = candidates(tmp_path / "b" / "out")
    assert len(cands) == 12
    for n in cands.values():  # the same models as the first run: the same sizes
        key = (n["config"]["bits"], n["config"]["block_size"], n["parent"])
        assert n["metrics"]["value"][SIZE]["value"] == sizes[key]
        assert n["metrics"]["if_goals_met"] == (sizes[key] <= limit)
    pruned = sum(v > limit for v in sizes.values())
    assert 0 < pruned < 12 and (r.stdout + r.stderr).count("(pruned: misses a goal)") == pruned
    front = json.loads((tmp_path / "b" / "out" / "pareto_frontier_footprint.json").read_text())["nodes"]
    ok = {k: (n["metrics"]["value"][ACC]["value"], -n["metrics"]["value"][SIZE]["value"]) for k, n in cands.items()
          if n["metrics"]["if_goals_met"]}
    brute = {k for k, (a, s) in ok.items()
             if not any(a2 >= a and s2 >= s and (a2 > a or s2 > s) for k2, (a2, s2) in ok.items() if k2 != k)}
    assert set(front) == brute and brute


def test_every_candidate_pruned_writes_nothing(tmp_path, onnx_input):
    r = run(tmp_path, config(onnx_input, goal={"type": "threshold", "value": 0.999999}))
    assert r.returncode == 1
    assert "every one of the 12 candidates was pruned" in r.stderr and ACC in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("strategy,needle", [
    ({"sampler": "grid"}, "unknown sampler 'grid'"),
    ({"sampler": "tpe", "max_samples": 0}, "max_samples"),
    ({"execution_order": "sideways"}, "execution_order"),
])
def test_bad_strategy(tmp_path, onnx_input, strategy, needle):
    r = run(tmp_path, config(onnx_input, strategy=strategy))
    assert r.returncode != 0 and needle in r.stderr
    assert not (tmp_path / "out").exists()


def test_goal_on_unknown_metric_and_empty_space(tmp_path, onnx_input):
    cfg = config(onnx_input)
    cfg["passes"]["quantization"]["bits"] = cat()
    r = run(tmp_path, cfg)
    assert r.returncode != 0 and "empty" in r.stderr and "bits" in r.stderr
    assert not (tmp_path / "out").exists()


def test_tpe_is_reproducible(tmp_path, onnx_input):
    seqs = []
    for i in range(2):
        d = tmp_path / str(i)
        d.mkdir()
        r = run(d, config(onnx_input, strategy={"sampler": "tpe", "seed": 3, "max_samples": 4}))
        assert r.returncode == 0, r.stderr
        # "candidate K/4: POINT: metrics": the points, in the order proposed
        seqs.append([line.split(": ")[1] for line in (r.stdout + r.stderr).splitlines()
                     if line.split(": ", 1)[0].endswith(tuple(f"candidate {k}/4" for k in range(4)))])
    assert seqs[0] == seqs[1] and len(seqs[0]) >= 4


def png_pixels(path):
    """Decodes a PNG with the standard library: its size and the inflated rows (RGB or RGBA, 8 bits)."""
    import struct
    import zlib
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color = ihdr[:4]
    channels = {2: 3, 6: 4}[color]
    raw = zlib.decompress(idat)
    assert depth == 8 and len(raw) == h * (1 + w * channels)
    return w, h


def test_chart_and_frontier_models(tmp_path, onnx_input):
    import xml.etree.ElementTree as ET
    cfg = config(onnx_input)
    cfg["engine"].update(plot_pareto_frontier=True, output_model_num=3)
    r = run(tmp_path, cfg)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    assert png_pixels(out / "pareto_frontier_chart.png") == (800, 600)
    root = ET.parse(out / "pareto_frontier_chart.svg").getroot()
    styles = [e.get("style", "") for e in root.iter("{http://www.w3.org/2000/svg}path")]
    markers = [s for s in styles if "fill:rgb(20%,40%,70%)" in s or "fill:rgb(85%,33%,10%)" in s
               or "stroke:rgb(60%,60%,60%)" in s]
    front_markers = [s for s in styles if "fill:rgb(85%,33%,10%)" in s]
    front = json.loads((out / "pareto_frontier_footprint.json").read_text())["nodes"]
    assert len(markers) == 12 and len(front_markers) == len(front)
    # The frontier models, best first, each in its own folder, as the cache holds them.
    subs = sorted(p.name for p in out.iterdir() if p.name.startswith("frontier_"))
    assert subs == [f"frontier_{k}" for k in range(min(3, len(front)))]
    for s in subs:
        assert (out / s / "model.onnx").stat().st_size > 0


def test_tune_session_params(tmp_path, onnx_input):
    r = olive("tune-session-params", "-m", onnx_input, "-o", tmp_path / "tuned", "--intra_thread_num_list", "1,2",
              "--execution_mode_list", "ORT_SEQUENTIAL", "--repeat", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    tried = [line for line in r.stdout.splitlines() if line.startswith("CPUExecutionProvider")]
    assert len(tried) == 2 and all(" ms" in line for line in tried)
    mc = json.loads((tmp_path / "tuned" / "model_config.json").read_text())
    inf = mc["config"]["inference_settings"]
    assert inf["execution_provider"] == ["CPUExecutionProvider"]
    so = inf["session_options"]
    assert so["intra_op_num_threads"] in (1, 2) and so["execution_mode"] == 0 and so["graph_optimization_level"] == 99
    # The chosen setting is the one the printed timings call fastest.
    ms = {int(line.split("intra_op_num_threads=")[1].split()[0]): float(line.rsplit(": ", 1)[1].split()[0])
          for line in tried}
    assert ms[so["intra_op_num_threads"]] == min(ms.values())
    bad = olive("tune-session-params", "-m", onnx_input, "-o", tmp_path / "x", "--intra_thread_num_list", "a",
                cwd=tmp_path)
    assert bad.returncode == 2 and not (tmp_path / "x").exists()
    missing = olive("tune-session-params", "-m", tmp_path / "nothing.onnx", "-o", tmp_path / "y", cwd=tmp_path)
    assert missing.returncode == 1 and "nothing.onnx" in missing.stderr and not (tmp_path / "y").exists()


def test_failing_candidate_is_recorded_and_search_goes_on(tmp_path, onnx_input):
    cfg = config(onnx_input)
    # hqq quantizes to 4 bits only: its 8-bit candidates fail, the others run.
    cfg["passes"]["quantization"] = {"type": "OnnxBlockWiseRtnQuantization", "bits": cat(4, 8),
                                     "algorithm": cat("default", "hqq")}
    cfg["passes"]["fusion"] = {"type": "OnnxPeepholeOptimizer"}
    r = run(tmp_path, cfg)
    assert r.returncode == 0, r.stderr
    fp = json.loads((tmp_path / "out" / "footprint.json").read_text())
    failed = [n for n in fp.values() if n.get("status") == "failed"]
    assert len(failed) == 1
    assert "bits=8" in failed[0]["search_point"] and "hqq" in failed[0]["search_point"]
    assert failed[0]["parent"] in fp and failed[0]["error"]
    assert len(candidates(tmp_path / "out")) == 3


def test_cancelled_search_keeps_finished_candidates(tmp_path, onnx_input):
    """Ctrl-C during a search stops it (exit 130, no output folder); the candidates evaluated
    before are served from the cache by the next run."""
    import signal
    (tmp_path / "config.json").write_text(json.dumps(config(onnx_input)))
    p = subprocess.Popen([CLI, "run", "--config", "config.json", "--log_level", "1"], cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    finished = 0
    for line in p.stderr:
        if line.split("] ")[-1].startswith("candidate ") and "/12: " in line:
            finished += 1
            if finished == 2:
                p.send_signal(signal.SIGINT)
                break
    rest = p.communicate(timeout=300)[1]
    if p.returncode == 0:
        pytest.skip("the search ended before the interrupt reached it")
    assert p.returncode == 130, rest
    assert not (tmp_path / "out").exists()
    r = run(tmp_path, config(onnx_input))
    assert r.returncode == 0, r.stderr
    assert (r.stdout + r.stderr).count("not evaluated again") >= 2


def test_searchable_values_take_the_registry_space(tmp_path, onnx_input):
    """"SEARCHABLE_VALUES" searches the space `olive passes` lists for the parameter."""
    listed = olive("passes", "quantize", cwd=tmp_path).stdout.split("Searchable parameters")[1]
    want = {int(v) for v in listed.split("block_size:")[1].splitlines()[0].split(",")}
    cfg = config(onnx_input)
    cfg["passes"] = {"quantization": {"type": "OnnxBlockWiseRtnQuantization", "block_size": "SEARCHABLE_VALUES"}}
    r = run(tmp_path, cfg)
    assert r.returncode == 0, r.stderr
    assert {n["config"]["block_size"] for n in candidates(tmp_path / "out").values()} == want


def _olive_search():
    def load():
        from olive.search.search_parameter import Categorical  # noqa: PLC0415
        from olive.search.search_strategy import SearchStrategy  # noqa: PLC0415
        return SearchStrategy, Categorical
    return import_olive(load)


OLIVE_SEARCH = _olive_search()


def logged_candidates(log):
    """[(point, {metric: value})] in the order the log's progress lines report them."""
    out = []
    for line in log.splitlines():
        m = re.search(r"candidate \d+/\d+: (.*): (accuracy-accuracy_score=.*)$", line)
        if m:
            values = dict(kv.split("=") for kv in m.group(2).replace(" (cached)", "").split())
            out.append((m.group(1), {k: float(v) for k, v in values.items()}))
    return out


@pytest.mark.skipif(OLIVE_SEARCH is None, reason="olive-ai is not installed (scripts/requirements-olive.txt)")
def test_pass_by_pass_walks_as_olive(tmp_path, onnx_input):
    """execution_order pass-by-pass: the candidates, in order, are those Olive's own SearchStrategy
    proposes when fed the same metrics (accuracy, then size on disk, both deterministic)."""
    SearchStrategy, Categorical = OLIVE_SEARCH
    cfg = size_config(onnx_input)
    cfg["passes"]["quantization"]["block_size"] = cat(32, 128)
    cfg["engine"]["search_strategy"] = {"execution_order": "pass-by-pass", "sampler": "sequential"}
    r = run(tmp_path, cfg)
    assert r.returncode == 0, r.stderr
    ours = logged_candidates(r.stdout + r.stderr)
    assert all(v < 1e6 for _, m in ours for v in m.values())  # printed with 6 digits: exact
    metrics = dict(ours)

    fusions = ["0:OrtTransformersOptimization", "1:OnnxPeepholeOptimizer"]
    strategy = SearchStrategy({"execution_order": "pass-by-pass", "sampler": "sequential"})
    objectives = {"accuracy-accuracy_score": {"higher_is_better": True, "priority": 1, "goal": None},
                  "size-size_on_disk": {"higher_is_better": False, "priority": 2, "goal": None}}
    strategy.initialize({"fusion": [{}, {}],
                         "quantization": [{"bits": Categorical([4, 8]), "block_size": Categorical([32, 128])}]},
                        "input", {"fusion": objectives, "quantization": objectives})
    theirs = []
    for sample in strategy:
        values = sample.search_point.values
        if "fusion" in values:
            point = f"fusion={fusions[values['fusion'][0]]} (up to fusion)"
        else:
            q = values["quantization"][1]
            point = (f"{sample.model_ids[0].replace(' (up to fusion)', '')} quantization.bits={q['bits'][1]} "
                     f"quantization.block_size={q['block_size'][1]}")
        theirs.append(point)
        assert point in metrics, f"Olive proposes {point}, which libolive never evaluated"
        signal = {k: types.SimpleNamespace(value=v) for k, v in metrics[point].items()}
        strategy.record_feedback_signal(sample.search_point.index, signal, [point])
    assert [p for p, _ in ours] == theirs
    assert len(theirs) == 2 + 2 * 4  # level 0 once, level 1 from each fusion
