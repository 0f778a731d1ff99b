"""One cache folder filled by many processes at once, the stand-in for a cache on a shared file
system that the nodes of a cluster write into: `olive run` processes race to fill the same
entries, and a reader polls the folder while they write.

Every entry left must verify (each file's sha256 equals its manifest's, hashed here with
hashlib), load (onnx's checker, onnxruntime computing what the input model computes) and hold
the same bytes as the entry a single process writes alone; no staging folder or temporary file
may remain. The reader must never see an entry that does not verify.
"""

import hashlib
import json
import os
import subprocess
import threading

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import boot_tag, dead_pid, start_time  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

WRITERS = 8
TIMEOUT = 600
PASSES = {"peephole": {"type": "OnnxPeepholeOptimizer"},
          "quant": {"type": "OnnxBlockWiseRtnQuantization", "block_size": 32},
          "f16": {"type": "OnnxFloatToFloat16", "keep_io_types": True}}


def make_model(path, k=64, n=64):
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32) * 0.1, "w1"),
             numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32) * 0.1, "w2")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Identity", ["h"], ["h2"], name="ident"),
             helper.make_node("MatMul", ["h2", "w2"], ["y"], name="mm2")]
    graph = helper.make_graph(nodes, "cache", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def write_config(work, name, cache_dir, output_dir):
    cfg = {"input_model": {"type": "ONNXModel", "model_path": "in/model.onnx"},
           "passes": PASSES,
           "engine": {"output_dir": output_dir, "cache_dir": cache_dir}}
    (work / name).write_text(json.dumps(cfg))


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entry_problem(entry):
    """None when the entry's files match its manifest, else what is wrong."""
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        return f"manifest: {e}"
    files = manifest.get("files")
    if not isinstance(files, dict) or manifest.get("model") not in files:
        return "manifest lists no model"
    for name, digest in files.items():
        try:
            if sha256(entry / name) != digest:
                return f"{name} differs from its manifest"
        except OSError as e:
            return f"{name}: {e}"
    return None


def entries(cache):
    return {p.name: p for p in (cache / "runs").iterdir() if not p.name.startswith(".")}


def litter(cache):
    """Staging folders and temporary files anywhere in the cache."""
    return [str(p) for p in cache.rglob("*") if ".tmp-" in p.name]


def test_racing_writers_leave_every_entry_valid(tmp_path):
    make_model(tmp_path / "in" / "model.onnx")
    # The reference: one process alone, in its own cache.
    write_config(tmp_path, "single.json", "single-cache", "single-out")
    alone = subprocess.run([CLI, "run", "--config", "single.json"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=TIMEOUT)
    assert alone.returncode == 0, alone.stderr
    reference = entries(tmp_path / "single-cache")
    assert len(reference) == len(PASSES)

    shared = tmp_path / "shared-cache"
    for i in range(WRITERS):
        write_config(tmp_path, f"w{i}.json", "shared-cache", f"out{i}")
    seen, bad, done = set(), [], threading.Event()

    def read_while_writing():
        # A reader polling the cache sees whole, verified entries or none.
        while not done.is_set():
            if not (shared / "runs").is_dir():
                continue
            for name, entry in entries(shared).items():
                problem = entry_problem(entry)
                if problem:
                    bad.append((name, problem))
                else:
                    seen.add(name)

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        procs = [subprocess.Popen([CLI, "run", "--config", f"w{i}.json", "--log_level", "1"], cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(WRITERS)]
        results = [p.communicate(timeout=TIMEOUT) + (p.returncode,) for p in procs]
    finally:
        done.set()
        reader.join()
    for out, err, rc in results:
        assert rc == 0, err
    assert not bad, bad

    got = entries(shared)
    assert sorted(got) == sorted(reference)
    for key, entry in got.items():
        assert entry_problem(entry) is None, key
        ref = reference[key]
        assert sorted(p.name for p in entry.iterdir()) == sorted(p.name for p in ref.iterdir()), key
        for f in ref.iterdir():
            assert (entry / f.name).read_bytes() == f.read_bytes(), (key, f.name)
        model = entry / json.loads((entry / "manifest.json").read_text())["model"]
        onnx.checker.check_model(str(model))
    assert not litter(shared), litter(shared)

    # Every writer's output is the single writer's, and runs in onnxruntime.
    x = np.random.default_rng(5).standard_normal((2, 64)).astype(np.float32)
    single = tmp_path / "single-out"
    for i in range(WRITERS):
        for f in single.iterdir():
            if f.name.startswith("model.onnx"):
                assert (tmp_path / f"out{i}" / f.name).read_bytes() == f.read_bytes(), (i, f.name)
    (y,) = ort.InferenceSession(str(tmp_path / "out0" / "model.onnx")).run(None, {"x": x})
    assert y.shape == (2, 64) and np.isfinite(y).all()
    # How many writers ran a pass rather than finding it depends on timing; the case of an
    # entry published between a writer's lookup and its store is made deterministic in
    # tests/unit/workflow/test_cache.c.

    # A later run finds everything in the cache.
    again = subprocess.run([CLI, "run", "--config", "w0.json", "--log_level", "1"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("cache hit") == len(PASSES), again.stderr


def test_only_stale_staging_folders_and_temporary_files_are_removed(tmp_path):
    make_model(tmp_path / "in" / "model.onnx")
    write_config(tmp_path, "c.json", "cache", "out")
    runs = tmp_path / "cache" / "runs"
    runs.mkdir(parents=True)
    key = "ab" * 32
    # A writer killed on this machine (its process is gone), a live one (this test's process),
    # one on another machine that wrote a minute ago, and one there untouched for two days.
    dead = runs / f".{key}.tmp-{boot_tag()}-{dead_pid()}-1-aB3xZ9"
    live = runs / f".{key}.tmp-{boot_tag()}-{os.getpid()}-{start_time(os.getpid())}-aB3xZ8"
    remote_live = runs / f".{key}.tmp-00000001-4242-1-aB3xZ7"
    remote_dead = runs / f".{key}.tmp-00000001-4243-1-aB3xZ6"
    for d in (dead, live, remote_live, remote_dead):
        d.mkdir()
        (d / "model.onnx.data").write_bytes(b"\0" * 64)
    old = os.path.getmtime(remote_dead) - 2 * 86400
    os.utime(remote_dead / "model.onnx.data", (old, old))
    os.utime(remote_dead, (old, old))
    # On the remote live writer, only the file it is writing is recent.
    os.utime(remote_live, (old, old))
    # Temporary files of atomic writes: one abandoned two days ago, one being written.
    (tmp_path / "cache" / "evaluations").mkdir()
    old_tmp = tmp_path / "cache" / "evaluations" / f".{key}.json.tmp-Qw3rTy"
    new_tmp = tmp_path / "cache" / "evaluations" / f".{key[::-1]}.json.tmp-Qw3rTz"
    old_tmp.write_text("{")
    new_tmp.write_text("{")
    os.utime(old_tmp, (old, old))
    r = subprocess.run([CLI, "run", "--config", "c.json"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert not dead.exists() and not remote_dead.exists() and not old_tmp.exists()
    assert live.exists() and remote_live.exists() and new_tmp.exists()
    assert (live / "model.onnx.data").read_bytes() == b"\0" * 64
