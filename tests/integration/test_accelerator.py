"""Host detection checked against what the operating system reports.

The library is called through ctypes (LIBOLIVE_LIBRARY names the shared library) and its
olive_accelerator_describe_json output is compared with /proc/cpuinfo, os.cpu_count() and
/proc/meminfo.
"""

import ctypes
import json
import os
import platform

import pytest

OLIVE_OK = 0
OLIVE_EINVALID = -1

# libolive feature name -> the name Linux gives the same feature in /proc/cpuinfo.
X86_FEATURES = {
    name: name
    for name in (
        "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
        "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8",
        "amx_bf16",
    )
}
ARM64_FEATURES = {"neon": "asimd", "dotprod": "asimddp", "i8mm": "i8mm", "sve": "sve", "bf16": "bf16"}


@pytest.fixture(scope="module")
def lib():
    path = os.environ.get("LIBOLIVE_LIBRARY")
    if not path:
        pytest.skip("LIBOLIVE_LIBRARY is not set (path to the built libolive shared library)")
    lib = ctypes.CDLL(path)
    lib.olive_accelerator_new.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_char_p]
    lib.olive_accelerator_new.restype = ctypes.c_int
    lib.olive_accelerator_free.argtypes = [ctypes.c_void_p]
    lib.olive_accelerator_free.restype = None
    lib.olive_accelerator_describe_json.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    lib.olive_accelerator_describe_json.restype = ctypes.c_int
    lib.olive_accelerator_has_feature.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.olive_accelerator_has_feature.restype = ctypes.c_int
    lib.olive_accelerator_cpu_cores.argtypes = [ctypes.c_void_p]
    lib.olive_accelerator_cpu_cores.restype = ctypes.c_int
    lib.olive_accelerator_memory_bytes.argtypes = [ctypes.c_void_p]
    lib.olive_accelerator_memory_bytes.restype = ctypes.c_uint64
    lib.olive_accelerator_cuda_device_count.argtypes = [ctypes.c_void_p]
    lib.olive_accelerator_cuda_device_count.restype = ctypes.c_int
    lib.olive_error_last.argtypes = []
    lib.olive_error_last.restype = ctypes.c_char_p
    lib.olive_free.argtypes = [ctypes.c_void_p]
    lib.olive_free.restype = None
    return lib


@pytest.fixture()
def accelerator(lib):
    handle = ctypes.c_void_p()
    rc = lib.olive_accelerator_new(ctypes.byref(handle), b"cpu", None)
    assert rc == OLIVE_OK, lib.olive_error_last().decode()
    yield handle
    lib.olive_accelerator_free(handle)


@pytest.fixture()
def described(lib, accelerator):
    text = ctypes.c_void_p()
    rc = lib.olive_accelerator_describe_json(ctypes.byref(text), accelerator)
    assert rc == OLIVE_OK, lib.olive_error_last().decode()
    try:
        return json.loads(ctypes.string_at(text).decode("utf-8"))
    finally:
        lib.olive_free(text)


def cpuinfo_flags():
    """The feature flags of the first CPU in /proc/cpuinfo ("flags" on x86, "Features" on arm64)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        pass
    return None


def meminfo_total_bytes():
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                value, unit = line.split()[1:3]
                assert unit == "kB"
                return int(value) * 1024
    raise AssertionError("no MemTotal line in /proc/meminfo")


def feature_table():
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return X86_FEATURES
    if machine in ("aarch64", "arm64"):
        return ARM64_FEATURES
    return {}


def test_features_match_proc_cpuinfo(lib, accelerator, described):
    flags = cpuinfo_flags()
    table = feature_table()
    if flags is None or not table:
        pytest.skip(f"no /proc/cpuinfo feature flags to compare with on {platform.machine()}")
    listed = set(described["cpu"]["features"])
    for ours, linux in table.items():
        expected = linux in flags
        assert bool(lib.olive_accelerator_has_feature(accelerator, ours.encode())) == expected, (
            f"{ours}: /proc/cpuinfo says {expected}"
        )
        assert (ours in listed) == expected, f"{ours} in describe_json features: /proc/cpuinfo says {expected}"


def test_logical_cores_match_os(lib, accelerator, described):
    assert described["cpu"]["logical_cores"] == os.cpu_count()
    assert lib.olive_accelerator_cpu_cores(accelerator) == os.cpu_count()
    assert described["cpu"]["affinity_cores"] == len(os.sched_getaffinity(0))
    assert 1 <= described["cpu"]["physical_cores"] <= described["cpu"]["logical_cores"]


def test_physical_cores_match_sysfs(described):
    pairs = set()
    base = "/sys/devices/system/cpu"
    for entry in os.listdir(base):
        if not (entry.startswith("cpu") and entry[3:].isdigit()):
            continue
        topo = os.path.join(base, entry, "topology")
        online = os.path.join(base, entry, "online")
        if os.path.exists(online):
            with open(online) as f:
                if f.read().strip() == "0":
                    continue
        try:
            with open(os.path.join(topo, "core_id")) as f:
                core = int(f.read())
            with open(os.path.join(topo, "physical_package_id")) as f:
                package = int(f.read())
        except OSError:
            continue
        pairs.add((package, core))
    if not pairs:
        pytest.skip("no CPU topology in sysfs")
    assert described["cpu"]["physical_cores"] == len(pairs)


def test_memory_matches_meminfo(lib, accelerator, described):
    total = meminfo_total_bytes()
    assert abs(described["memory_bytes"] - total) <= total * 0.01
    assert lib.olive_accelerator_memory_bytes(accelerator) == described["memory_bytes"]


def test_cpu_model_matches_proc_cpuinfo(described):
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            models = [line.partition(":")[2].strip() for line in f if line.startswith("model name")]
    except OSError:
        models = []
    if not models:
        pytest.skip("/proc/cpuinfo has no model name")
    assert " ".join(described["cpu"]["model"].split()) == " ".join(models[0].split())


def test_describe_json_fields(lib, accelerator, described):
    assert described["device"] == "cpu"
    assert described["provider"] == "CPUExecutionProvider"
    assert described["cpu"]["arch"]
    cuda = described["cuda"]
    assert isinstance(cuda["available"], bool)
    assert len(cuda["devices"]) == lib.olive_accelerator_cuda_device_count(accelerator)
    assert cuda["available"] == (len(cuda["devices"]) > 0)
    for device in cuda["devices"]:
        assert device["name"]
        assert device["memory_bytes"] > 0
        major, minor = device["compute_capability"].split(".")
        assert int(major) >= 3 and int(minor) >= 0
    assert "cpu" in described["backends"]
    assert set(described["cpu_backend"]) >= {"library", "version", "available"}


def test_cuda_devices_match_nvidia_smi(described):
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if not smi:
        pytest.skip("nvidia-smi is not installed")
    if "cuda" not in described["backends"]:
        pytest.skip("this libolive was built without CUDA")
    out = subprocess.run(
        [smi, "--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        pytest.skip(f"nvidia-smi failed: {out.stderr.strip()}")
    rows = [[c.strip() for c in line.split(",")] for line in out.stdout.strip().splitlines() if line.strip()]
    devices = described["cuda"]["devices"]
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        pytest.skip("CUDA_VISIBLE_DEVICES is set: nvidia-smi lists devices the runtime does not see")
    assert len(devices) == len(rows)
    for device, (name, mem_mib, cap) in zip(devices, rows):
        assert device["name"] == name
        assert device["compute_capability"] == cap
        # nvidia-smi counts memory the driver reserves for itself, the runtime does not.
        assert abs(device["memory_bytes"] / 2**20 - float(mem_mib)) <= float(mem_mib) * 0.02


def test_refused_pair_lists_known_names(lib):
    handle = ctypes.c_void_p()
    rc = lib.olive_accelerator_new(ctypes.byref(handle), b"cpu", b"CUDAExecutionProvider")
    assert rc == OLIVE_EINVALID
    assert not handle.value
    message = lib.olive_error_last().decode()
    assert "CUDAExecutionProvider" in message and "CPUExecutionProvider" in message
