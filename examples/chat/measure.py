#!/usr/bin/env python3
"""Runs a command and writes its wall time and peak resident memory as JSON.

usage: measure.py OUT_JSON -- COMMAND [ARGS...]"""
import json
import resource
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    start = time.perf_counter()
    status = subprocess.call(sys.argv[3:])
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    with open(sys.argv[1], "w") as f:
        json.dump({"seconds": seconds, "peak_rss_bytes": peak_kib * 1024, "status": status}, f)
    return status


if __name__ == "__main__":
    sys.exit(main())
