#!/usr/bin/env python3
"""Hugging Face Hub download: libolive against curl, from the same loopback server in the same
run. The server (tests/integration/hub_server.py) speaks the Hub's file API and serves one
GGUF-named file of --size-mb megabytes (random bytes, default 500); libolive fetches it as
`olive auto-opt -m acme/big/model.gguf --dry_run` into a fresh HF_HOME (process start, the API
query, the HEAD, the redirect, the download with its sha256 check and the rename into the cache;
--dry_run stops before any conversion), curl fetches the blob URL into a
file (`curl -s -o FILE URL`, no checksum). Prints wall time, rate and peak RSS of each and the
ratio libolive / curl of the rates (the claim: at least 0.8). Exits non-zero when libolive does
not leave the file, verified, in the cache; never on timing.

  .venv/bin/python bench/download.py --olive build/examples/olive/olive [--size-mb 500] [--runs 3]
"""
import argparse
import hashlib
import os
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--olive", default=os.path.join(HERE, "..", "build", "examples", "olive", "olive"))
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    chunk = os.urandom(1 << 20)
    data = b"".join(chunk[i:] + chunk[:i] for i in range(args.size_mb))  # no two MiB alike
    sha = hashlib.sha256(data).hexdigest()
    server = HubServer()
    server.add("acme/big", Repo({COMMIT: {"model.gguf": data}}, {"main": COMMIT}))
    gnu = gnu_time_works()
    rows = {"libolive": [], "curl": []}
    work = tempfile.mkdtemp(prefix="olive-bench-download-")
    try:
        for _ in range(args.runs):
            home = os.path.join(work, "hf")
            shutil.rmtree(home, ignore_errors=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
            os.environ.clear()
            os.environ.update(env, HF_HOME=home, HF_ENDPOINT=server.url)
            wall, rss, _, err, _ = run_measured([args.olive, "auto-opt", "-m", "acme/big/model.gguf", "-o",
                                                 os.path.join(work, "out"), "--dry_run"], gnu)
            blob = os.path.join(home, "hub", "models--acme--big", "blobs", sha)
            if not os.path.isfile(blob) or os.path.getsize(blob) != len(data):
                print("libolive did not leave the file in the cache:\n" + err, file=sys.stderr)
                return 1
            rows["libolive"].append((wall, rss))
            out = os.path.join(work, "curl.bin")
            wall, rss, _, err, rc = run_measured(["curl", "-s", "-o", out, server.url + "/lfs/" + sha], gnu)
            if rc != 0 or os.path.getsize(out) != len(data):
                print("curl failed:\n" + err, file=sys.stderr)
                return 1
            os.unlink(out)
            rows["curl"].append((wall, rss))
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    mb = len(data) / 1e6
    print(f"download of {mb:.0f} MB from {server.url}: median of {args.runs} run(s), whole process, "
          f"peak RSS {'GNU time' if gnu else 'VmHWM sampling'}")
    print(f"  {'':10} {'wall s':>8} {'MB/s':>8} {'peak RSS MiB':>13}")
    rate = {}
    for k, v in rows.items():
        t = statistics.median(w for w, _ in v)
        rate[k] = mb / t
        print(f"  {k:10} {t:8.2f} {rate[k]:8.1f} {mib(max(m for _, m in v)):13.1f}")
    print(f"  rate libolive / curl: {rate['libolive'] / rate['curl']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
