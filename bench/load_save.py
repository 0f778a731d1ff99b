#!/usr/bin/env python3
"""Load + save of a large ONNX model with external data: libolive against the onnx package.

Generates (once, cached under bench/out/) a stack of MatMul/Add layers whose 4096x4096 float32
weights live in one external data file, then times in the same run, each measurement in its own
fresh process:

  libolive  `roundtrip IN.onnx OUT.onnx` (load, validate, save with external data)
  onnx      onnx.load(IN) + onnx.save_model(..., save_as_external_data=True,
            all_tensors_to_one_file=True); an fsync of its outputs is timed apart
  cp        cp of model.onnx and model.onnx.data: the floor for writing a new copy

All read a warm page cache: every tool runs once untimed first, and the file system is synced
before each run so that the previous run's write-back does not land in the next one's time.
Prints the median wall time and peak RSS of each, the speed ratio, and checks that both
outputs pass onnx's checker and hold the same tensor bytes as the input. Exits non-zero only
when a tool fails or an output is wrong, never on timing.

Run with the venv's python:  .venv/bin/python bench/load_save.py [--size-gb 1] [--runs 3]
"""
import argparse
import datetime
import json
import math
import mmap
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from measure import build_type, fresh_dir, gnu_time_works, mib, run_measured

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_ROOT = os.path.join(REPO, "bench", "out")
HIDDEN = 4096
WEIGHT_BYTES = HIDDEN * HIDDEN * 4
SPEED_TARGET = 5.0      # libolive at least this many times faster than onnx
RSS_TARGET_PCT = 10.0   # libolive's peak RSS under this share of the weight bytes

# The onnx side, run in a fresh interpreter. It reports its own load and save times so that
# interpreter start-up and `import onnx` are not charged to onnx, and then times an fsync of
# its outputs apart, since libolive's save syncs its files before renaming them into place.
ONNX_CHILD = r"""
import json, os, sys, time
import onnx
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
src, dst = sys.argv[1], sys.argv[2]
base_kib = rss_kib()
t0 = time.perf_counter()
model = onnx.load(src)
t1 = time.perf_counter()
onnx.save_model(model, dst, save_as_external_data=True, all_tensors_to_one_file=True,
                location=os.path.basename(dst) + ".data")
t2 = time.perf_counter()
for name in (dst, dst + ".data"):  # timed apart: onnx itself does not sync its outputs
    fd = os.open(name, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
t3 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "save_s": t2 - t1, "fsync_s": t3 - t2, "base_rss_kib": base_kib}))
"""


# ---------------------------------------------------------------- model generation

def model_dir(layers):
    return os.path.join(OUT_ROOT, f"model-{layers}x{HIDDEN}")


def generate_model(layers):
    """Writes model.onnx + model.onnx.data with `layers` MatMul/Add layers, one weight at a
    time, into a temporary folder renamed into place at the end (so a cached model is whole)."""
    final = model_dir(layers)
    if os.path.isfile(os.path.join(final, "model.onnx")):
        return os.path.join(final, "model.onnx")
    os.makedirs(OUT_ROOT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="gen-", dir=OUT_ROOT)
    os.chmod(tmp, 0o755)
    data_name = "model.onnx.data"
    rng = np.random.default_rng(20240611)
    scale = np.float32(1.0 / math.sqrt(HIDDEN))
    initializers, nodes = [], []
    offset = 0
    print(f"generating {layers} layers of {HIDDEN}x{HIDDEN} float32 "
          f"({layers * WEIGHT_BYTES / 2**30:.2f} GiB) in {final} ...", flush=True)
    t0 = time.perf_counter()
    with open(os.path.join(tmp, data_name), "wb") as data:
        for i in range(layers):
            for name, shape in ((f"layer{i}.weight", (HIDDEN, HIDDEN)), (f"layer{i}.bias", (HIDDEN,))):
                arr = rng.standard_normal(shape, dtype=np.float32) * scale
                raw = arr.tobytes()
                data.write(raw)
                tensor = TensorProto(name=name, data_type=TensorProto.FLOAT,
                                     dims=list(shape), data_location=TensorProto.EXTERNAL)
                for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = k, v
                offset += len(raw)
                initializers.append(tensor)
                del arr, raw
            prev = "x" if i == 0 else f"h{i - 1}"
            nodes.append(helper.make_node("MatMul", [prev, f"layer{i}.weight"], [f"mm{i}"], name=f"layer{i}.matmul"))
            nodes.append(helper.make_node("Add", [f"mm{i}", f"layer{i}.bias"],
                                          ["y" if i == layers - 1 else f"h{i}"], name=f"layer{i}.add"))
    graph = helper.make_graph(
        nodes, "matmul_stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", HIDDEN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", HIDDEN])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="libolive-bench")
    model.ir_version = 8
    path = os.path.join(tmp, "model.onnx")
    onnx.save_model(model, path)
    onnx.checker.check_model(path)
    if os.path.isdir(final):
        shutil.rmtree(final)
    os.rename(tmp, final)
    print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
    return os.path.join(final, "model.onnx")


# ---------------------------------------------------------------- measurement

def measure_libolive(tool, src, run_dir, gnu_time):
    dst = fresh_dir(run_dir)
    os.sync()  # so that the previous run's write-back is not charged to this one
    wall, rss, out, err, rc = run_measured([tool, src, dst], gnu_time)
    if rc != 0:
        raise RuntimeError(f"libolive roundtrip failed (exit {rc}): {err.strip() or out.strip()}")
    return {"wall_s": wall, "rss_kib": rss, "out": dst}


def measure_onnx(src, run_dir, gnu_time):
    dst = fresh_dir(run_dir)
    os.sync()
    wall, rss, out, err, rc = run_measured([sys.executable, "-c", ONNX_CHILD, src, dst], gnu_time)
    if rc != 0:
        raise RuntimeError(f"onnx load/save failed (exit {rc}): {err.strip()[-2000:]}")
    info = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": info["load_s"] + info["save_s"], "fsync_s": info["fsync_s"], "process_s": wall,
            "rss_kib": rss, "base_rss_kib": info["base_rss_kib"], "out": dst}


def measure_cp(src, run_dir, gnu_time):
    """The floor for any tool that writes a new copy: cp of the two files, no parsing."""
    dst = fresh_dir(run_dir)
    os.sync()
    wall, rss, out, err, rc = run_measured(["cp", src, src + ".data", os.path.dirname(dst)], gnu_time)
    if rc != 0:
        raise RuntimeError(f"cp failed (exit {rc}): {err.strip()}")
    return {"wall_s": wall, "rss_kib": rss, "out": dst}


# ---------------------------------------------------------------- output checks

class TensorBytes:
    """Gives each initializer's bytes as a uint8 array, external ones as slices of one mmap
    per data file, so comparing a GiB costs no more memory than the page cache."""

    def __init__(self, model_path):
        self.dir = os.path.dirname(os.path.abspath(model_path))
        self.model = onnx.load(model_path, load_external_data=False)
        self.maps = {}

    def _map(self, location):
        if location not in self.maps:
            with open(os.path.join(self.dir, location), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self.maps[location] = (mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b"")
        return self.maps[location]

    def get(self, t):
        if t.data_location == TensorProto.EXTERNAL:
            info = {e.key: e.value for e in t.external_data}
            buf = self._map(info["location"])
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else len(buf) - offset
            if offset + length > len(buf):
                raise ValueError(f"tensor {t.name}: external data {offset}+{length} past the end of "
                                 f"{info['location']} ({len(buf)} bytes)")
            return np.frombuffer(buf, dtype=np.uint8, count=length, offset=offset)
        return numpy_helper.to_array(t).reshape(-1).view(np.uint8)

    def close(self):
        for m in self.maps.values():
            if isinstance(m, mmap.mmap):
                m.close()


def check_output(label, ref, out_path):
    """Returns a list of problems with the output at out_path (empty when it is right)."""
    problems = []
    try:
        onnx.checker.check_model(out_path)
    except Exception as e:  # the checker raises several types
        return [f"{label}: onnx.checker rejects {out_path}: {e}"]
    got = TensorBytes(out_path)
    try:
        g_ref, g_out = ref.model.graph, got.model.graph
        sig = lambda n: (n.op_type, n.domain, list(n.input), list(n.output))
        if [sig(n) for n in g_ref.node] != [sig(n) for n in g_out.node]:
            problems.append(f"{label}: the graph's nodes differ from the input's")
        out_inits = {t.name: t for t in g_out.initializer}
        if len(out_inits) != len(g_ref.initializer):
            problems.append(f"{label}: {len(out_inits)} initializers, the input has {len(g_ref.initializer)}")
        for t in g_ref.initializer:
            o = out_inits.get(t.name)
            if o is None:
                problems.append(f"{label}: initializer {t.name} is missing")
                continue
            if o.data_type != t.data_type or list(o.dims) != list(t.dims):
                problems.append(f"{label}: initializer {t.name} has type/shape {o.data_type}/{list(o.dims)}, "
                                f"expected {t.data_type}/{list(t.dims)}")
                continue
            try:
                a, b = ref.get(t), got.get(o)
            except (OSError, ValueError, KeyError) as e:
                problems.append(f"{label}: initializer {t.name}: {e}")
                continue
            if a.size != b.size or not np.array_equal(a, b):
                problems.append(f"{label}: initializer {t.name} bytes differ from the input's")
            del a, b
    finally:
        got.close()
    return problems


# ---------------------------------------------------------------- report

def report(weight_bytes, runs, rss_method):
    med = lambda key, field="wall_s": statistics.median(r[field] for r in runs[key])
    peak = lambda key: max(r["rss_kib"] for r in runs[key])
    times = lambda key, field="wall_s": " ".join(f"{r[field]:.2f}" for r in runs[key])
    lib_t, onx_t, cp_t = med("libolive"), med("onnx"), med("cp")
    onx_sync = [r["wall_s"] + r["fsync_s"] for r in runs["onnx"]]
    onx_sync_t = statistics.median(onx_sync)
    ratio = onx_t / lib_t
    rss_pct = 100.0 * peak("libolive") * 1024 / weight_bytes
    n = len(runs["libolive"])
    print()
    print(f"load + save, {weight_bytes / 2**30:.2f} GiB of float32 weights in external data; "
          f"median of {n} runs, warm page cache; peak RSS from {rss_method}")
    print(f"{'':<24} {'wall s':>7} {'peak RSS MiB':>13}   runs (s)")
    print(f"{'libolive (syncs)':<24} {lib_t:7.2f} {mib(peak('libolive')):13.1f}   {times('libolive')}")
    print(f"{'onnx':<24} {onx_t:7.2f} {mib(peak('onnx')):13.1f}   {times('onnx')}")
    print(f"{'onnx + fsync of outputs':<24} {onx_sync_t:7.2f} {'':>13}   "
          + " ".join(f"{t:.2f}" for t in onx_sync))
    print(f"{'cp of the two files':<24} {cp_t:7.2f} {mib(peak('cp')):13.1f}   {times('cp')}")
    print(f"onnx's times are its load + save inside the process; the whole process took "
          f"{med('onnx', 'process_s'):.2f} s with interpreter start and `import onnx` "
          f"({mib(statistics.median(r['base_rss_kib'] for r in runs['onnx'])):.1f} MiB RSS before the load)")
    print(f"speed ratio onnx / libolive: {ratio:.2f}x   target >= {SPEED_TARGET:.0f}x: "
          f"{'met' if ratio >= SPEED_TARGET else 'NOT met'}")
    print(f"  same durability, (onnx + fsync) / libolive: {onx_sync_t / lib_t:.2f}x;  "
          f"libolive / cp: {lib_t / cp_t:.2f}x")
    print(f"libolive peak RSS: {rss_pct:.2f}% of the weight bytes   target < {RSS_TARGET_PCT:.0f}%: "
          f"{'met' if rss_pct < RSS_TARGET_PCT else 'NOT met'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-gb", type=float, default=1.0,
                    help="weight size in GiB, rounded up to whole 64 MiB layers (default 1.0)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool; the median is reported (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the last outputs under bench/out/run/")
    ap.add_argument("--roundtrip", default=os.path.join(REPO, "build", "tests", "tools", "roundtrip"),
                    help="libolive's roundtrip tool (default: build/tests/tools/roundtrip in the repository)")
    args = ap.parse_args()
    if args.size_gb <= 0 or args.runs < 1:
        ap.error("--size-gb must be positive and --runs at least 1")
    tool = os.path.abspath(args.roundtrip)
    if not os.access(tool, os.X_OK):
        ap.error(f"no roundtrip tool at {tool}: build it (meson setup build && ninja -C build) or pass --roundtrip")

    layers = max(1, math.ceil(args.size_gb * 2**30 / WEIGHT_BYTES))
    src = generate_model(layers)
    ref = TensorBytes(src)
    weight_bytes = sum(ref.get(t).size for t in ref.model.graph.initializer)
    gnu_time = gnu_time_works()
    rss_method = "GNU time (%M)" if gnu_time else "sampling /proc/<pid>/status VmHWM every ms (a lower bound)"

    run_root = os.path.join(OUT_ROOT, "run")
    measures = {"libolive": lambda d: measure_libolive(tool, src, d, gnu_time),
                "onnx": lambda d: measure_onnx(src, d, gnu_time),
                "cp": lambda d: measure_cp(src, d, gnu_time)}
    print(f"{datetime.datetime.now().isoformat(timespec='seconds')}  {platform.node()}  "
          f"{os.cpu_count()} cpus  {platform.machine()}  onnx {onnx.__version__}  "
          f"python {platform.python_version()}")
    print(f"libolive: {tool}, build type {build_type(tool)}")
    print(f"input: {src} ({weight_bytes} weight bytes)")
    failures = []
    runs = {k: [] for k in measures}
    try:
        print("warm-up (untimed) ...", flush=True)
        for key, measure in measures.items():
            measure(os.path.join(run_root, key))
        for i in range(args.runs):
            # Interleaved so that drift on the machine hits every tool alike.
            for key, measure in measures.items():
                runs[key].append(measure(os.path.join(run_root, key)))
            print(f"run {i + 1}/{args.runs}: " + ", ".join(
                f"{k} {v[-1]['wall_s']:.2f} s {mib(v[-1]['rss_kib']):.0f} MiB" for k, v in runs.items()), flush=True)
    except RuntimeError as e:
        failures.append(str(e))

    if all(len(v) == args.runs for v in runs.values()):
        report(weight_bytes, runs, rss_method)
        print("checking outputs ...", flush=True)
        failures += check_output("libolive", ref, runs["libolive"][-1]["out"])
        failures += check_output("onnx", ref, runs["onnx"][-1]["out"])
    ref.close()
    if not args.keep:
        shutil.rmtree(run_root, ignore_errors=True)
    if failures:
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        return 1
    print("outputs: both pass onnx.checker and hold the input's tensor bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
