#!/usr/bin/env python3
"""Peak memory of loading a graph with millions of small nodes: libolive against the onnx package.

Generates (once, cached under bench/out/) a chain of N Relu nodes with names (default 2 M
nodes, ~60 MiB of protobuf), then, in the same run and each in its own fresh process:

  load       `olive inspect --json IN`: libolive's load and a summary of the graph
  roundtrip  the roundtrip tool: load, validate, save (embedded: the model has no weights)
  onnx.load  onnx.load(IN): the protobuf tree the onnx package holds

Prints the wall time, peak RSS and bytes of peak RSS per node of each, and checks that the
saved model has the same node count and the same node names as the input. Exits non-zero only
when a tool fails or an output is wrong, never on the figures.

Run with the venv's python:  .venv/bin/python bench/graph_memory.py [--nodes 2000000]
"""
import argparse
import os
import sys

import onnx

from measure import fresh_dir, gnu_time_works, mib, run_measured

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(os.path.join(REPO, "tests", "integration"))
from relu_chain import relu_chain  # noqa: E402
OUT_ROOT = os.path.join(REPO, "bench", "out")

ONNX_CHILD = r"""
import sys, onnx
m = onnx.load(sys.argv[1])
print(len(m.graph.node))
"""


def make_model(path, nodes):
    """The Relu chain of the graph memory test, written once."""
    if os.path.exists(path):
        return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(relu_chain(nodes).SerializeToString())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=2_000_000)
    ap.add_argument("--roundtrip", default=os.path.join(REPO, "build", "tests", "tools", "roundtrip"))
    ap.add_argument("--olive", default=os.path.join(REPO, "build", "examples", "olive", "olive"))
    args = ap.parse_args()

    folder = os.path.join(OUT_ROOT, f"chain-{args.nodes}")
    os.makedirs(folder, exist_ok=True)
    src = os.path.join(folder, "model.onnx")
    make_model(src, args.nodes)
    gnu = gnu_time_works()
    size = os.path.getsize(src)
    print(f"input: {args.nodes} nodes, {mib(size / 1024):.1f} MiB of protobuf"
          f"{'' if gnu else ' (peak RSS sampled from /proc: a lower bound)'}")

    dst = fresh_dir(os.path.join(OUT_ROOT, f"chain-{args.nodes}-out"))
    rows = []
    wall, rss, out, err, rc = run_measured([args.olive, "inspect", "--json", src], gnu)
    if rc != 0 or f'"node_count": {args.nodes}' not in out:
        sys.exit(f"olive inspect failed: {err.strip()}")
    rows.append(("load", wall, rss))
    wall, rss, _, err, rc = run_measured([args.roundtrip, src, dst, "external_data=never"], gnu)
    if rc != 0:
        sys.exit(f"roundtrip failed: {err.strip()}")
    rows.append(("roundtrip", wall, rss))
    wall, rss, out, err, rc = run_measured([sys.executable, "-c", ONNX_CHILD, src], gnu)
    if rc != 0 or int(out.strip()) != args.nodes:
        sys.exit(f"onnx failed: {err.strip()}")
    rows.append(("onnx.load", wall, rss))

    print(f"{'tool':<10} {'wall s':>8} {'peak RSS MiB':>13} {'bytes/node':>11}")
    for name, wall, rss in rows:
        print(f"{name:<10} {wall:8.2f} {mib(rss):13.1f} {rss * 1024 / args.nodes:11.0f}")

    saved = onnx.load(dst)
    if len(saved.graph.node) != args.nodes or saved.graph.node[-1].name != f"relu_{args.nodes - 1}":
        sys.exit("libolive's output does not hold the input's nodes")
    print("output checked: same node count and names")


if __name__ == "__main__":
    main()
