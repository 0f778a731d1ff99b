"""`olive run --max_parallel N`: a search's candidates built and evaluated by N worker processes
of the olive command, then found in the cache. Checked against the same search run in one
process: the same candidates with the same metrics (accuracy, size on disk), the same frontier
and output model; the workers' job descriptions name one candidate each; a second run starts no
worker; with a latency metric the candidates run one at a time in the driver, as the log says.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("onnxruntime")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import test_search  # noqa: E402  (its model fixture and config)

from test_search import cat, onnx_input  # noqa: E402,F401  (onnx_input is a fixture used below)

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")


def small_config(model):
    cfg = test_search.size_config(model)
    cfg["passes"] = {"fusion": {"type": "OnnxPeepholeOptimizer"},
                     "quantization": {"type": "OnnxBlockWiseRtnQuantization", "bits": cat(4, 8),
                                      "block_size": cat(32, 64)}}
    return cfg


def run(d, cfg, *extra):
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    return subprocess.run([CLI, "run", "--config", "config.json", "--log_level", "1", *extra], capture_output=True,
                          text=True, timeout=300, cwd=d)


def metrics(out):
    fp = json.loads((out / "footprint.json").read_text())
    nodes = fp.get("nodes", fp)
    return {k: {m: v["value"] for m, v in n["metrics"]["value"].items()}
            for k, n in nodes.items() if n.get("slot") == "quantization" and n.get("metrics")}


def test_worker_processes_equal_one_process(tmp_path, onnx_input):
    one = run(tmp_path / "one", small_config(onnx_input))
    assert one.returncode == 0, one.stderr
    par = run(tmp_path / "par", small_config(onnx_input), "--max_parallel", "2")
    assert par.returncode == 0, par.stderr
    want = metrics(tmp_path / "one" / "out")
    assert len(want) == 4 and metrics(tmp_path / "par" / "out") == want
    for name in ("pareto_frontier_footprint.json", "metrics.json"):
        assert json.loads((tmp_path / "par" / "out" / name).read_text()) == \
            json.loads((tmp_path / "one" / "out" / name).read_text())
    assert (tmp_path / "par" / "out" / "model.onnx").read_bytes() == \
        (tmp_path / "one" / "out" / "model.onnx").read_bytes()

    # Four workers, one candidate each, from job descriptions under the cache.
    assert len(re.findall(r"local: task \d started as process \d+", par.stderr)) == 4
    assert "local: 4 done, 0 running, 0 pending, 0 failed (of 4)" in par.stderr
    jobs = sorted((tmp_path / "par" / "cache" / "jobs").glob("*/task-*.json"))
    assert len(jobs) == 4
    points = set()
    for j in jobs:
        doc = json.loads(j.read_text())
        exe = doc["engine"]["executor"]
        assert exe["type"] == "task" and "output_dir" not in doc["engine"]
        assert pathlib.Path(doc["engine"]["cache_dir"]) == (tmp_path / "par" / "cache").resolve()
        points.add(exe["search_point"])
    assert len(points) == 4

    again = run(tmp_path / "par", small_config(onnx_input), "--max_parallel", "2")
    assert again.returncode == 0, again.stderr
    assert "started as process" not in again.stderr
    assert "executor local: 4 candidates already evaluated in the cache: not submitted" in again.stderr


def test_timing_metrics_run_one_at_a_time(tmp_path, onnx_input):
    cfg = test_search.config(onnx_input)
    cfg["passes"]["quantization"]["block_size"] = cat(32)
    cfg["passes"]["fusion"] = {"type": "OnnxPeepholeOptimizer"}
    r = run(tmp_path, cfg, "--max_parallel", "4")
    assert r.returncode == 0, r.stderr
    assert "executor local: the evaluator or a pass measures latency or throughput, so candidates run one at a time" in r.stderr
    assert "started as process" not in r.stderr and not (tmp_path / "cache" / "jobs").exists()


def test_a_pass_that_measures_time_runs_one_at_a_time(tmp_path, onnx_input):
    # No timing metric here (size on disk): the tuning pass measures latency itself.
    cfg = small_config(onnx_input)
    cfg["passes"]["tune"] = {"type": "OrtSessionParamsTuning", "intra_thread_num_list": 1,
                             "execution_mode_list": "ORT_SEQUENTIAL", "repeat": 1}
    r = run(tmp_path, cfg, "--max_parallel", "2")
    assert r.returncode == 0, r.stderr
    assert "executor local: the evaluator or a pass measures latency or throughput, so candidates run one at a time" in r.stderr
    assert "started as process" not in r.stderr and not (tmp_path / "cache" / "jobs").exists()
    inf = json.loads((tmp_path / "out" / "model_config.json").read_text())["config"]["inference_settings"]
    assert inf["session_options"]["intra_op_num_threads"] == 1


def test_a_task_config_for_another_space_is_refused(tmp_path, onnx_input):
    cfg = small_config(onnx_input)
    cfg["engine"].pop("output_dir")
    cfg["engine"]["executor"] = {"type": "task", "point": [1, 7], "search_point": "x", "candidate": 0}
    r = run(tmp_path, cfg)
    assert r.returncode != 0
    assert "engine.executor.point: not the point 'x' of this workflow's search space" in r.stderr


def test_cancel_stops_the_workers(tmp_path, onnx_input):
    # The workers' olive command waits for a file before it runs, so two are surely running
    # when the driver is interrupted.
    gate, started = tmp_path / "gate", tmp_path / "started"
    slow = tmp_path / "slow-olive"
    slow.write_text("#!/bin/sh\necho $$ >> '%s'\nwhile [ ! -e '%s' ]; do sleep 0.2; done\nexec '%s' \"$@\"\n"
                    % (started, gate, CLI))
    slow.chmod(0o755)
    d = tmp_path / "run"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(small_config(onnx_input)))
    p = subprocess.Popen([CLI, "run", "--config", "config.json", "--log_level", "1", "--max_parallel", "2"], cwd=d,
                         env=dict(os.environ, OLIVE_CLI=str(slow)), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while (not started.exists() or len(started.read_text().split()) < 2) and p.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists() and len(started.read_text().split()) == 2, "the workers did not start"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode != 0
    assert "cancelled" in err
    for pid in started.read_text().split():  # stopped and waited for: no such process any more
        assert not pathlib.Path("/proc", pid).exists(), pid
    assert not (d / "out").exists()
    gate.touch()
    r = run(d, small_config(onnx_input))
    assert r.returncode == 0, r.stderr
    assert len(metrics(d / "out")) == 4
