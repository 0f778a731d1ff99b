"""Accelerator: construction rules, and host facts checked against what Linux reports."""

import os
import re
import shutil
import subprocess

import pytest

from olive_py_support import require_libolive

libolive = require_libolive()


def _cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")


def test_default_is_cpu():
    with libolive.Accelerator() as acc:
        assert acc.device == "cpu"
        assert acc.provider == "CPUExecutionProvider"
        d = acc.describe()
    assert d["device"] == "cpu" and d["provider"] == "CPUExecutionProvider"
    for key in ("cpu", "memory_bytes", "cuda"):
        assert key in d
    for key in ("model", "logical_cores", "physical_cores", "features"):
        assert key in d["cpu"]
    assert "available" in d["cuda"] and "devices" in d["cuda"]


def test_device_is_case_insensitive():
    with libolive.Accelerator("CPU", "CPUExecutionProvider") as acc:
        assert acc.device == "cpu"


def test_gpu_defaults_to_cuda_provider():
    with libolive.Accelerator("gpu") as acc:
        assert acc.device == "gpu"
        assert acc.provider == "CUDAExecutionProvider"


def test_unknown_device_lists_known_names():
    with pytest.raises(libolive.InvalidArgument) as info:
        libolive.Accelerator("toaster")
    for name in ("toaster", "cpu", "gpu", "npu"):
        assert name in info.value.message


def test_unknown_provider():
    with pytest.raises(libolive.InvalidArgument) as info:
        libolive.Accelerator("cpu", "NoSuchExecutionProvider")
    assert "NoSuchExecutionProvider" in info.value.message


def test_incompatible_pair():
    with pytest.raises(libolive.InvalidArgument) as info:
        libolive.Accelerator("cpu", "CUDAExecutionProvider")
    assert "CUDAExecutionProvider" in info.value.message


def test_cpu_facts_match_linux():
    info = _cpuinfo()
    with libolive.Accelerator() as acc:
        d = acc.describe()
        assert d["cpu"]["logical_cores"] == os.cpu_count()
        assert 1 <= d["cpu"]["physical_cores"] <= d["cpu"]["logical_cores"]
        assert acc.cores in (d["cpu"]["logical_cores"], d["cpu"]["physical_cores"])
        names = re.findall(r"^model name\s*:\s*(.+)$", info, re.M)
        if names:
            assert acc.cpu_model == names[0].strip() == d["cpu"]["model"]
        flags = re.findall(r"^flags\s*:\s*(.+)$", info, re.M)
        if not flags:
            pytest.skip("no x86 flags line in /proc/cpuinfo")
        flags = set(flags[0].split())
        linux_name = {"sse4_2": "sse4_2", "avx": "avx", "avx2": "avx2", "fma": "fma",
                      "f16c": "f16c", "avx512f": "avx512f", "avx512bw": "avx512bw",
                      "avx512vl": "avx512vl", "avx512_vnni": "avx512_vnni",
                      "avx512_bf16": "avx512_bf16", "avx512_fp16": "avx512_fp16",
                      "avx_vnni": "avx_vnni", "amx_tile": "amx_tile", "amx_int8": "amx_int8",
                      "amx_bf16": "amx_bf16"}
        for ours, linux in linux_name.items():
            assert acc.has_feature(ours) == (linux in flags), ours
            assert (ours in d["cpu"]["features"]) == (linux in flags), ours
        assert acc.has_feature("neon") is False
        assert acc.has_feature("no_such_feature") is False


def test_memory_matches_linux():
    if not hasattr(os, "sysconf"):
        pytest.skip("no sysconf")
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    with libolive.Accelerator() as acc:
        assert acc.memory_bytes == acc.describe()["memory_bytes"]
        assert abs(acc.memory_bytes - total) <= total // 100


def test_cuda_devices_are_consistent():
    with libolive.Accelerator() as acc:
        d = acc.describe()
        count = acc.cuda_device_count
    assert count == len(d["cuda"]["devices"])
    assert d["cuda"]["available"] == (count > 0)
    for dev in d["cuda"]["devices"]:
        assert dev["name"] and dev["memory_bytes"] > 0
    smi = shutil.which("nvidia-smi")
    if count and smi:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True).stdout
        assert count == len([l for l in listed.splitlines() if l.startswith("GPU ")])


def test_accelerators_are_independent():
    a = libolive.Accelerator("cpu")
    b = libolive.Accelerator("gpu")
    a.close()
    assert b.device == "gpu"
    b.close()
    with pytest.raises(ValueError, match="closed"):
        b.describe()
