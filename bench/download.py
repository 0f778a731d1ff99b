#!/usr/bin/env python3
"""Hugging Face Hub download: libolive against curl, from the same loopback server in the same
run. The server (tests/integration/hub_server.py) speaks the Hub's file API and serves one
GGUF-named file of --size-mb megabytes (random bytes, default 500); libolive fetches it as
`olive auto-opt -m acme/big/model.gguf --dry_run` into a fresh HF_HOME (process start, the API
query, the HEAD, the redirect, the download with its sha256 check and the rename into the cache;
--dry_run stops before any conversion), curl fetches the blob URL into a file in the same folder
(`curl -s -o FILE URL`, no checksum). A third row, curl into /dev/null, is what the server and
loopback deliver with no file written at all: when curl into a file comes close to it, the server
is the limit, not the client. Rounds alternate which tool goes first. Prints the median and the
best wall time and rate of each, the median CPU seconds (user + system) of the tool and of the
server (this process, idle otherwise) per run, the peak RSS, and the ratio libolive / curl of the
rates (the claim: at least 0.8). Exits non-zero when libolive does not leave the file, verified, in the cache;
never on timing.

  .venv/bin/python bench/download.py --olive build/examples/olive/olive [--size-mb 500] [--runs 5]
"""
import argparse
import hashlib
import os
import resource
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from hub_server import HubServer, Repo  # noqa: E402
from measure import gnu_time_works, mib, run_measured  # noqa: E402

COMMIT = "b" * 40


def cpu_seconds(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run_timed(argv, gnu, env=None):
    """run_measured, plus the CPU seconds (user + system) the command used and those the server
    threads of this process used meanwhile: steadier than the wall time on a machine shared with
    other work, and what a loaded machine runs out of."""
    child, server = cpu_seconds(resource.RUSAGE_CHILDREN), cpu_seconds(resource.RUSAGE_SELF)
    wall, rss, _, err, rc = run_measured(argv, gnu, env)
    cpu = (cpu_seconds(resource.RUSAGE_CHILDREN) - child, cpu_seconds(resource.RUSAGE_SELF) - server)
    return wall, rss, cpu, err, rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--olive", default=os.path.join(HERE, "..", "build", "examples", "olive", "olive"))
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    chunk = os.urandom(1 << 20)
    data = b"".join(chunk[i:] + chunk[:i] for i in range(args.size_mb))  # no two MiB alike
    sha = hashlib.sha256(data).hexdigest()
    server = HubServer()
    server.add("acme/big", Repo({COMMIT: {"model.gguf": data}}, {"main": COMMIT}))
    gnu = gnu_time_works()
    rows = {"libolive": [], "curl": [], "curl, no file": []}
    work = tempfile.mkdtemp(prefix="olive-bench-download-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    home = os.path.join(work, "hf")
    env.update(HF_HOME=home, HF_ENDPOINT=server.url)
    blob_url = server.url + "/lfs/" + sha

    def olive():
        shutil.rmtree(home, ignore_errors=True)
        wall, rss, cpu, err, rc = run_timed([args.olive, "auto-opt", "-m", "acme/big/model.gguf", "-o",
                                             os.path.join(work, "out"), "--dry_run"], gnu, env)
        blob = os.path.join(home, "hub", "models--acme--big", "blobs", sha)
        if rc != 0 or not os.path.isfile(blob) or os.path.getsize(blob) != len(data):
            sys.exit(f"libolive (exit status {rc}) did not leave the file in the cache:\n" + err)
        rows["libolive"].append((wall, rss, cpu))

    def curl(to_file):
        out = os.path.join(work, "curl.bin") if to_file else os.devnull
        wall, rss, cpu, err, rc = run_timed(["curl", "-s", "-o", out, blob_url], gnu)
        if rc != 0 or (to_file and os.path.getsize(out) != len(data)):
            sys.exit("curl failed:\n" + err)
        if to_file:
            os.unlink(out)
        rows["curl" if to_file else "curl, no file"].append((wall, rss, cpu))

    try:
        for i in range(args.runs):
            for step in ((olive, lambda: curl(True)) if i % 2 == 0 else (lambda: curl(True), olive)):
                step()
            curl(False)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    mb = len(data) / 1e6
    print(f"download of {mb:.0f} MB from {server.url}: {args.runs} run(s) each, whole process, "
          f"peak RSS {'GNU time' if gnu else 'VmHWM sampling'}")
    print(f"  {'':14} {'median s':>9} {'MB/s':>8} {'best s':>8} {'MB/s':>8} {'CPU s':>6} {'server CPU s':>13} "
          f"{'peak RSS MiB':>13}")
    median, best = {}, {}
    for k, v in rows.items():
        median[k] = statistics.median(w for w, _, _ in v)
        best[k] = min(w for w, _, _ in v)
        print(f"  {k:14} {median[k]:9.2f} {mb / median[k]:8.1f} {best[k]:8.2f} {mb / best[k]:8.1f} "
              f"{statistics.median(c[0] for _, _, c in v):6.2f} {statistics.median(c[1] for _, _, c in v):13.2f} "
              f"{mib(max(m for _, m, _ in v)):13.1f}")
    print(f"  rate libolive / curl: {median['curl'] / median['libolive']:.2f} (medians), "
          f"{best['curl'] / best['libolive']:.2f} (best runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
