"""Memory of a graph with many small nodes: loading one costs no more than the onnx package's own
protobuf tree (bench/graph_memory.py measures the same at 2 M nodes). Each side runs in a fresh
interpreter and reports how much its peak RSS grew over the load, after its imports."""

import os
import subprocess
import sys

import pytest

onnx = pytest.importorskip("onnx")
from relu_chain import relu_chain  # noqa: E402

LIB = os.environ.get("LIBOLIVE_LIBRARY")
pytestmark = pytest.mark.skipif(not LIB, reason="LIBOLIVE_LIBRARY is not set (run through meson test)")

NODES = 300_000

OLIVE_CHILD = r"""
import ctypes, sys
def hwm():
    # VmHWM belongs to this process's memory map (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
lib = ctypes.CDLL(sys.argv[1])
base = hwm()
m = ctypes.c_void_p()
assert lib.olive_model_load(ctypes.byref(m), sys.argv[2].encode()) == 0
lib.olive_model_node_count.restype = ctypes.c_size_t
assert lib.olive_model_node_count(m) == int(sys.argv[3])
print(hwm() - base)
"""

ONNX_CHILD = r"""
import sys
import onnx
def hwm():
    # VmHWM belongs to this process's memory map (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
base = hwm()
m = onnx.load(sys.argv[1])
assert len(m.graph.node) == int(sys.argv[2])
print(hwm() - base)
"""


def grown_kib(code, *args):
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip())


def test_load_peak_is_no_more_than_onnx_packages(tmp_path):
    path = tmp_path / "chain.onnx"
    path.write_bytes(relu_chain(NODES).SerializeToString())
    olive_kib = grown_kib(OLIVE_CHILD, LIB, path, NODES)
    onnx_kib = grown_kib(ONNX_CHILD, path, NODES)
    # Unpacking the whole graph with protobuf-c before converting it took 1.65 times the onnx
    # package's peak; unpacking node by node takes about as much as onnx.
    assert olive_kib <= 1.25 * onnx_kib, (olive_kib, onnx_kib)
