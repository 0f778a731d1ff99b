"""GPTQ for CUDAExecutionProvider (lib/kernels/gptq_cuda.h), run through the olive CLI
(run-pass --device gpu --provider CUDAExecutionProvider) on MatMul models whose MatMuls read the
graph input, so that every provider sees the same calibration values:

- without a CUDA device (or cuBLAS / cuSOLVER, or in a build without CUDA) the pass says once, at
  info level, that GPTQ runs on the CPU and why, and writes exactly the codes, scales and zero
  points of the CPU provider's run;
- where it says it runs on the GPU (scripts/device-check.sh runs this file on a GPU machine, with
  OLIVE_REQUIRE_CUDA=1: GPTQ on the CPU is then a failure, not a skip), its codes match the CPU's on a few layer shapes: at least 99.5% equal (cuBLAS
  and cuSOLVER round differently from OpenBLAS and LAPACK, so a value near a rounding boundary
  may fall on its other side), scales within 1e-4 relative, and the quantized model's outputs
  as close to the float model's as the CPU's (within 2%)."""

import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from olive_testlib import session  # noqa: E402
from test_gptq import correlated_inputs, model_of, unpack  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")

GPU_LINE = "gptq: GPTQ on the GPU ("
CPU_LINE = "gptq: GPTQ on the CPU for CUDAExecutionProvider: "


def run_gptq(tmp_path, name, model, calib, provider, opts):
    src = tmp_path / f"{name}.onnx"
    out = tmp_path / name
    onnx.save(model, str(src))
    args = [CLI, "run-pass", "--pass", "gptq", "--param", f"calibration_data={calib}", "-m", str(src), "-o", str(out),
            "--log_level", "1"]
    for key, value in opts.items():
        args += ["--param", f"{key}={str(value).lower()}"]
    if provider == "CUDAExecutionProvider":
        args += ["--device", "gpu", "--provider", provider]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert "Sanitizer" not in proc.stderr and "runtime error" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    return onnx.load(str(out / "model.onnx")), proc.stderr


SHAPES = [
    # (k, [n of each MatMul]): K of 256 with groups inside one block, K of 640 over five blocks
    (256, [48, 40]),
    (640, [96]),
]

OPTS = [
    dict(bits=4, group_size=32, sym=False, desc_act=False, static_groups=False),
    dict(bits=4, group_size=128, sym=True, desc_act=True, static_groups=False),
    dict(bits=8, group_size=64, sym=False, desc_act=True, static_groups=True),
]


def layers(tmp_path, k, widths, seed):
    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal((k, n)) * 0.05).astype(np.float32) for n in widths]
    seq = 16
    x = correlated_inputs(rng, max(40, 3 * k // seq), seq, k)  # rows enough for a well-determined Hessian
    calib = tmp_path / "calib"
    calib.mkdir(exist_ok=True)
    np.save(calib / "X.npy", x)
    return weights, seq, calib


@pytest.mark.parametrize("opts", OPTS)
def test_cuda_provider_without_device_gives_cpu_codes(tmp_path, opts):
    k, widths = SHAPES[0]
    weights, seq, calib = layers(tmp_path, k, widths, 5)
    model = model_of(weights, k, seq)
    cuda, log = run_gptq(tmp_path, "cuda", model, calib, "CUDAExecutionProvider", opts)
    if GPU_LINE in log:
        pytest.skip("GPTQ runs on a CUDA device here: test_gpu_codes_match_cpu compares it with the CPU")
    assert log.count(CPU_LINE) == 1, log
    cpu, cpu_log = run_gptq(tmp_path, "cpu", model, calib, "CPUExecutionProvider", opts)
    assert CPU_LINE not in cpu_log, cpu_log
    for i in range(len(weights)):
        for got, want in zip(unpack(cuda, f"mm{i}"), unpack(cpu, f"mm{i}")):
            if isinstance(want, dict):
                assert got == want
            elif want is None:
                assert got is None
            else:
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"k{s[0]}")
@pytest.mark.parametrize("opts", OPTS)
def test_gpu_codes_match_cpu(tmp_path, shape, opts):
    k, widths = shape
    weights, seq, calib = layers(tmp_path, k, widths, 7)
    model = model_of(weights, k, seq)
    gpu, log = run_gptq(tmp_path, "cuda", model, calib, "CUDAExecutionProvider", opts)
    if GPU_LINE not in log:
        why = log[log.index(CPU_LINE) + len(CPU_LINE):].splitlines()[0] if CPU_LINE in log else log
        if os.environ.get("OLIVE_REQUIRE_CUDA") == "1":
            pytest.fail(f"OLIVE_REQUIRE_CUDA=1 but GPTQ ran on the CPU: {why}")
        pytest.skip("GPTQ runs on the CPU here (no CUDA device, or no cuBLAS / cuSOLVER): "
                    "scripts/device-check.sh compares the GPU with the CPU")
    cpu, cpu_log = run_gptq(tmp_path, "cpu", model, calib, "CPUExecutionProvider", opts)
    assert GPU_LINE not in cpu_log, cpu_log
    for i in range(len(weights)):
        codes, scales, zps, attrs = unpack(gpu, f"mm{i}")
        want_codes, want_scales, want_zps, want_attrs = unpack(cpu, f"mm{i}")
        assert attrs == want_attrs
        np.testing.assert_allclose(scales, want_scales, rtol=1e-4, atol=0)
        if want_zps is None:
            assert zps is None
        else:
            # a zero point is round(-min / scale): it may move with a scale that moved
            assert (zps != want_zps).mean() <= 0.005
        same = float((codes == want_codes).mean())
        print(f"{opts} k={k}: W{i}: {100 * same:.3f}% of {codes.size} codes equal")
        assert same >= 0.995, f"only {100 * same:.3f}% of the GPU's codes equal the CPU's"
    test_x = correlated_inputs(np.random.default_rng(8), 1, seq, k)
    want = session(model_of(weights, k, seq)).run(None, {"X": test_x})
    from_cpu = session(cpu).run(None, {"X": test_x})
    from_gpu = session(gpu).run(None, {"X": test_x})
    for w_, c_, g_ in zip(want, from_cpu, from_gpu):
        assert np.linalg.norm(g_ - w_) <= 1.02 * np.linalg.norm(c_ - w_)
