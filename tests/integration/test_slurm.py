"""Search candidates sent to a real single-node Slurm cluster (`olive run --executor slurm`),
started by this module (tests/slurm/start_cluster.sh: munged, slurmctld, slurmd) and stopped at
its end whatever happens. Checked against a local run of the same search (accuracy and size on
disk, which are deterministic): the same candidates with the same metrics and the same frontier;
the tasks ran as Slurm jobs (the array ids in the log are known to slurmctld, every task
COMPLETED); a second run submits nothing; a failing candidate's task is retried max_retries
times and then reported failed while the search goes on; Ctrl-C scancels the array and leaves a
cache that a later run uses as it is.
"""

import json
import os
import pathlib
import re
import shutil
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
ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
START, STOP = ROOT / "tests" / "slurm" / "start_cluster.sh", ROOT / "tests" / "slurm" / "stop_cluster.sh"
NEEDED = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "scontrol"]
SBIN = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
MISSING = [b for b in NEEDED if not shutil.which(b, path=SBIN)]

pytestmark = [
    pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)"),
    pytest.mark.skipif(bool(MISSING), reason="Slurm is not installed (missing: %s; scripts/install-deps.sh installs "
                       "slurmctld, slurmd, slurm-client and munge)" % ", ".join(MISSING)),
]
ACC, SIZE = "accuracy-accuracy_score", "size-size_on_disk"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm")
    try:
        r = subprocess.run(["bash", str(START), str(d)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        env = dict(os.environ, SLURM_CONF=str(d / "slurm.conf"))
        yield env
    finally:
        subprocess.run(["bash", str(STOP), str(d)], capture_output=True, timeout=60)


def small_config(model, bits=(4, 8), executor=None):
    cfg = test_search.size_config(model)
    cfg["passes"] = {"fusion": {"type": "OnnxPeepholeOptimizer"},
                     "quantization": {"type": "OnnxBlockWiseRtnQuantization", "bits": cat(*bits),
                                      "block_size": cat(32, 64)}}
    if executor:
        cfg["engine"]["executor"] = executor
    return cfg


def run(d, cfg, env, *extra, timeout=240):
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    return subprocess.run([CLI, "run", "--config", "config.json", "--log_level", "1", *extra], capture_output=True,
                          text=True, timeout=timeout, cwd=d, env=env)


def metrics(out):
    """{model id: {metric: value}} of the candidates footprint.json records, and the failed ones."""
    fp = json.loads((out / "footprint.json").read_text())
    nodes = fp.get("nodes", fp)
    got = {k: {m: v["value"] for m, v in n["metrics"]["value"].items()}
           for k, n in nodes.items() if n.get("slot") == "quantization" and n.get("metrics")}
    failed = {n["search_point"]: n.get("parent") for n in nodes.values() if n.get("status") == "failed"}
    return got, failed


def frontier(out):
    return sorted(json.loads((out / "pareto_frontier_footprint.json").read_text())["nodes"])


def arrays(log):
    return re.findall(r"slurm: submitted job array (\d+) \(tasks ([0-9,\-]*[0-9])", log)


def indices(spec):
    """[0, 1, 2, 3, 5] of "0-3,5"."""
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += range(int(a), int(b or a) + 1)
    return out


def squeue_states(env, job):
    r = subprocess.run(["squeue", "--noheader", "--array", "--states=all", "--jobs=" + job, "--format=%F|%K|%T"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return {int(k): st for _, k, st in (line.split("|") for line in r.stdout.split())}


def test_search_through_slurm_equals_local(tmp_path, onnx_input, cluster):
    local = run(tmp_path / "local", small_config(onnx_input), cluster)
    assert local.returncode == 0, local.stderr
    r = run(tmp_path / "slurm", small_config(onnx_input), cluster, "--executor", "slurm", "--max_parallel", "2")
    assert r.returncode == 0, r.stderr
    want, want_failed = metrics(tmp_path / "local" / "out")
    got, got_failed = metrics(tmp_path / "slurm" / "out")
    assert len(want) == 4 and not want_failed
    assert got == want and not got_failed
    assert frontier(tmp_path / "slurm" / "out") == frontier(tmp_path / "local" / "out")
    best = json.loads((tmp_path / "local" / "out" / "metrics.json").read_text())
    assert json.loads((tmp_path / "slurm" / "out" / "metrics.json").read_text()) == best
    assert (tmp_path / "slurm" / "out" / "model.onnx").read_bytes() == \
        (tmp_path / "local" / "out" / "model.onnx").read_bytes()

    # The tasks ran as Slurm jobs: one array of 4 tasks, known to slurmctld, every task COMPLETED.
    subs = arrays(r.stderr)
    assert subs == [(subs[0][0], "0-3")], r.stderr
    job = subs[0][0]
    show = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, env=cluster, timeout=30)
    assert show.returncode == 0 and "ArrayJobId=" + job in show.stdout, show.stdout + show.stderr
    assert squeue_states(cluster, job) == {i: "COMPLETED" for i in range(4)}
    assert "slurm: 4 done, 0 running, 0 pending, 0 failed (of 4)" in r.stderr

    # A second run finds every evaluation in the cache and submits nothing.
    again = run(tmp_path / "slurm", small_config(onnx_input), cluster, "--executor", "slurm")
    assert again.returncode == 0, again.stderr
    assert not arrays(again.stderr)
    assert "executor slurm: 4 candidates already evaluated in the cache: not submitted" in again.stderr
    assert "nothing to submit" in again.stderr
    assert metrics(tmp_path / "slurm" / "out") == (want, {})


def test_arrays_hold_at_most_max_array_size_tasks(tmp_path, onnx_input, cluster):
    r = run(tmp_path, small_config(onnx_input, executor={"type": "slurm", "max_array_size": 3}), cluster)
    assert r.returncode == 0, r.stderr
    subs = arrays(r.stderr)
    assert [t for _, t in subs] == ["0-2", "0"], r.stderr  # 4 candidates: 3, then 1
    assert len(metrics(tmp_path / "out")[0]) == 4


def test_failing_task_is_retried_then_reported(tmp_path, onnx_input, cluster):
    # bits=5 passes the parameter check but MatMulNBits cannot hold it: that candidate's pass
    # fails when it runs, on a cluster as locally.
    local = run(tmp_path / "local", small_config(onnx_input, bits=(4, 5)), cluster)
    assert local.returncode == 0, local.stderr
    exe = {"type": "slurm", "max_retries": 2}
    r = run(tmp_path / "slurm", small_config(onnx_input, bits=(4, 5), executor=exe), cluster)
    assert r.returncode == 0, r.stderr
    want, want_failed = metrics(tmp_path / "local" / "out")
    got, got_failed = metrics(tmp_path / "slurm" / "out")
    assert len(want) == 2 and got == want
    assert sorted(want_failed) == ["quantization.bits=5 quantization.block_size=32",
                                   "quantization.bits=5 quantization.block_size=64"]
    assert got_failed == want_failed  # the same points, from the same parent model

    # Indices 1 and 3 (bits=5; the sequential sampler varies the first parameter fastest, as
    # Olive's) were submitted three times each: the first array, then two retries (one array per
    # retry round, so they may go out together or apart).
    subs = arrays(r.stderr)
    assert subs[0][1] == "0-3", r.stderr
    counts = {}
    for _, tasks in subs:
        for i in indices(tasks):
            counts[i] = counts.get(i, 0) + 1
    assert counts == {0: 1, 1: 3, 2: 1, 3: 3}, r.stderr
    assert squeue_states(cluster, subs[0][0]) == {0: "COMPLETED", 1: "FAILED", 2: "COMPLETED", 3: "FAILED"}
    for job, _ in subs[1:]:
        assert set(squeue_states(cluster, job).values()) == {"FAILED"}
    assert len(re.findall(r"slurm: task [13] \(\d+_[13]\) failed, retrying", r.stderr)) == 4
    assert len(re.findall(r"slurm: task [13] \(\d+_[13]\) failed 3 times; the candidate is reported failed",
                          r.stderr)) == 2
    assert "MatMulNBits takes 4 or 8" in r.stderr
    summary = (tmp_path / "slurm" / "out" / "footprint.json").read_text()
    assert "failed 3 times" in summary


def test_cancel_scancels_the_array(tmp_path, onnx_input, cluster):
    # The tasks' olive command waits for a file before it runs, so the first task is surely
    # running (and the others pending) when the driver is interrupted.
    gate, started = tmp_path / "gate", tmp_path / "started"
    slow = tmp_path / "slow-olive"
    slow.write_text("#!/bin/sh\ntouch '%s'\nwhile [ ! -e '%s' ]; do sleep 0.2; done\nexec '%s' \"$@\"\n"
                    % (started, gate, CLI))
    slow.chmod(0o755)
    env = dict(cluster, OLIVE_CLI=str(slow))
    d = tmp_path / "run"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(small_config(onnx_input)))
    p = subprocess.Popen([CLI, "run", "--config", "config.json", "--log_level", "1", "--executor", "slurm",
                          "--max_parallel", "1"], cwd=d, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), "no task started"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode != 0
    subs = arrays(err)
    assert len(subs) == 1, err
    job = subs[0][0]
    assert "slurm: cancelled job array %s (scancel)" % job in err
    states = squeue_states(cluster, job)
    assert states and set(states.values()) == {"CANCELLED"}, states
    assert not (d / "out").exists()

    # The cache holds no half-written entry: the same search afterwards, locally, runs every
    # candidate from it or anew and gives the metrics of a clean local run.
    gate.touch()
    r = run(d, small_config(onnx_input), cluster)
    assert r.returncode == 0, r.stderr
    clean = run(tmp_path / "clean", small_config(onnx_input), cluster)
    assert clean.returncode == 0, clean.stderr
    assert metrics(d / "out") == metrics(tmp_path / "clean" / "out")
    leftovers = [p for p in (d / "cache" / "runs").rglob("*") if "staging" in p.name or p.name.startswith(".tmp")]
    assert not leftovers


def test_executor_settings_are_checked(tmp_path, onnx_input):
    """Unknown keys and types are refused before anything runs; a missing sbatch is named."""
    cases = [({"type": "slurm", "partitions": "gpu"}, "engine.executor: unknown key 'partitions' for executor type slurm"),
             ({"type": "ray"}, "engine.executor: unknown executor type 'ray'; known types: local, slurm"),
             ({"type": "local", "gres": "gpu:1"}, "engine.executor: unknown key 'gres' for executor type local"),
             ({"type": "slurm", "max_retries": -1}, "engine.executor.max_retries: expected a whole number")]
    for i, (exe, message) in enumerate(cases):
        r = run(tmp_path / str(i), small_config(onnx_input, executor=exe), os.environ)
        assert r.returncode != 0 and message in r.stderr, r.stderr
        assert not (tmp_path / str(i) / "cache").exists()
    # Without sbatch on PATH (ONNX Runtime found through OLIVE_ORT_LIBRARY instead of python3).
    import onnxruntime
    capi = pathlib.Path(onnxruntime.__file__).parent / "capi"
    ort = next(iter(sorted(capi.glob("libonnxruntime.so*"))))
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty), OLIVE_ORT_LIBRARY=str(ort))
    r = run(tmp_path / "nosbatch", small_config(onnx_input), env, "--executor", "slurm")
    assert r.returncode != 0
    assert "slurm: submitting the job array of 4 tasks: cannot run 'sbatch': command not found on PATH" in r.stderr
