"""Measurement helpers shared by the benchmarks: running a command in a fresh process and
reading its wall time and peak RSS."""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

GNU_TIME = "/usr/bin/time"


def gnu_time_works():
    """Peak RSS comes from GNU time when it is installed. ru_maxrss of a child forked straight
    from this interpreter would not do: Linux carries the forked copy's RSS (this process's,
    tens of MiB with numpy and onnx loaded) over exec into the child's maxrss. GNU time is a
    small C process, so what it reports for its own child is that child's alone."""
    if not os.access(GNU_TIME, os.X_OK):
        return False
    with tempfile.NamedTemporaryFile("r") as f:
        r = subprocess.run([GNU_TIME, "-f", "%M", "-o", f.name, "true"], capture_output=True)
        return r.returncode == 0 and f.read().strip().isdigit()


def poll_hwm(pid, stop, result):
    """Fallback: samples /proc/<pid>/status VmHWM until the process ends (a lower bound)."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        result[0] = max(result[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.001)


def run_measured(argv, use_gnu_time, env=None, cwd=None):
    """Runs argv in a fresh process (with `env` and in `cwd` when given); returns (wall seconds,
    peak RSS KiB, stdout, stderr, rc)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss_file:
        if use_gnu_time:
            argv = [GNU_TIME, "-f", "%M", "-o", rss_file.name] + argv
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        if use_gnu_time:
            proc.wait()
            wall = time.perf_counter() - t0
            lines = rss_file.read().split()
            rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        else:
            stop, result = threading.Event(), [0]
            poller = threading.Thread(target=poll_hwm, args=(proc.pid, stop, result))
            poller.start()
            proc.wait()
            wall = time.perf_counter() - t0
            stop.set()
            poller.join()
            rss = result[0]
        out.seek(0)
        err.seek(0)
        return wall, rss, out.read().decode(), err.read().decode(), proc.returncode


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return os.path.join(path, "model.onnx")


def mib(kib):
    return kib / 1024.0


def print_runs(what, rows, runs, gnu_time):
    """Prints the median wall time and the largest peak RSS of each tool's runs (rows: tool ->
    [(wall s, peak RSS KiB), ...]) as a table headed by `what`; returns the two, per tool."""
    t = {k: statistics.median(w for w, _ in v) for k, v in rows.items()}
    r = {k: max(m for _, m in v) for k, v in rows.items()}
    print(f"\n{what}: median of {runs} run(s), whole process, peak RSS {'GNU time' if gnu_time else 'VmHWM sampling'}")
    print(f"  {'':12} {'wall s':>8} {'peak RSS MiB':>13}")
    for k in rows:
        print(f"  {k:12} {t[k]:8.2f} {mib(r[k]):13.1f}")
    return t, r


def build_type(tool):
    """The meson build type of the build folder holding `tool`, when it is in one."""
    d = os.path.dirname(tool)
    while d != os.path.dirname(d):
        info = os.path.join(d, "meson-info", "intro-buildoptions.json")
        if os.path.isfile(info):
            try:
                with open(info) as f:
                    opts = {o["name"]: o["value"] for o in json.load(f)}
                return f"{opts.get('buildtype')} (-O{opts.get('optimization')})"
            except (OSError, ValueError, KeyError):
                return "unknown"
        d = os.path.dirname(d)
    return "unknown"
