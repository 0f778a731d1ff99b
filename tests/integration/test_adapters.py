"""LoRA adapters: `olive convert-adapters` (PEFT folder -> ONNX Runtime's .onnx_adapter, read back
with onnxruntime.AdapterFormat) and `olive generate-adapter` (the tiny Llama converted with its
LoRA weights as inputs), run in ONNX Runtime GenAI with adapters switched at run time, against
the base checkpoint with W + (alpha / r) B A merged in numpy and converted."""
import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from olive_testlib import read_safetensors

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")
LLAMA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert" / "llama"
TIMEOUT = 300


def olive(*args, cwd):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)


def assert_failed(r, *fragments):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    for f in fragments:
        assert f in r.stderr, r.stderr


def write_safetensors(path, tensors):
    """The safetensors format: an 8-byte little-endian header length, a JSON header, the data."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    pathlib.Path(path).write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def make_lora(folder, seed, r=4, alpha=8, targets=("q_proj", "v_proj", "down_proj"), config=None, extra=None):
    """A random LoRA for the tiny Llama, in PEFT's layout. Returns {module: (A [r,in], B [out,r])}."""
    base = read_safetensors(LLAMA / "model.safetensors")
    rng = np.random.default_rng(seed)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    layers, tensors = {}, {}
    for name, w in base.items():
        module = name[:-len(".weight")]
        if not name.endswith(".weight") or module.split(".")[-1] not in targets:
            continue
        out_f, in_f = w.shape
        a = rng.normal(0, 0.3, (r, in_f)).astype(np.float32)
        b = rng.normal(0, 0.3, (out_f, r)).astype(np.float32)
        layers[module] = (a, b)
        tensors[f"base_model.model.{module}.lora_A.weight"] = a
        tensors[f"base_model.model.{module}.lora_B.weight"] = b
    tensors.update(extra or {})
    write_safetensors(folder / "adapter_model.safetensors", tensors)
    cfg = {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "target_modules": list(targets), "use_dora": False,
           "use_rslora": False, "task_type": "CAUSAL_LM"}
    cfg.update(config or {})
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    return layers


def test_convert_adapters_writes_what_onnxruntime_reads(tmp_path):
    import onnxruntime as ort
    layers = make_lora(tmp_path / "lora", seed=1)
    r = olive("convert-adapters", "--adapter_path", "lora", "-o", "a.onnx_adapter", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fmt = ort.AdapterFormat.read_adapter(str(tmp_path / "a.onnx_adapter"))
    params = {k: v.numpy() for k, v in fmt.get_parameters().items()}
    assert len(params) == 2 * len(layers) == 2 * 2 * 3
    for module, (a, b) in layers.items():
        np.testing.assert_array_equal(params[module + ".lora_A.weight"], a.T)
        np.testing.assert_allclose(params[module + ".lora_B.weight"], (b * 8 / 4).T, rtol=1e-6)
    # float16, and the base it fits
    r = olive("convert-adapters", "--adapter_path", "lora", "-o", "h.onnx_adapter", "--dtype", "float16",
              "--base", LLAMA, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fmt16 = ort.AdapterFormat.read_adapter(str(tmp_path / "h.onnx_adapter"))  # the values are views into it
    half = {k: v.numpy() for k, v in fmt16.get_parameters().items()}
    m = "model.layers.1.mlp.down_proj"
    assert half[m + ".lora_A.weight"].dtype == np.float16
    np.testing.assert_array_equal(half[m + ".lora_A.weight"], layers[m][0].T.astype(np.float16))
    # a base path with a space and a quote in it
    shutil.copytree(LLAMA, tmp_path / 'base "dir" 1')
    r = olive("convert-adapters", "--adapter_path", "lora", "-o", "b.onnx_adapter", "--base", 'base "dir" 1',
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # never over an existing file
    assert_failed(olive("convert-adapters", "--adapter_path", "lora", "-o", "a.onnx_adapter", cwd=tmp_path), "exists")


def test_convert_adapters_refuses_what_it_cannot_convert(tmp_path):
    make_lora(tmp_path / "dora", seed=2, config={"use_dora": True})
    assert_failed(olive("convert-adapters", "--adapter_path", "dora", "-o", "x", cwd=tmp_path), "DoRA")
    make_lora(tmp_path / "loha", seed=2, config={"peft_type": "LOHA"})
    assert_failed(olive("convert-adapters", "--adapter_path", "loha", "-o", "x", cwd=tmp_path), "LOHA", "LoRA")
    make_lora(tmp_path / "big", seed=2, r=4, extra={
        "base_model.model.model.layers.0.mlp.up_proj.lora_A.weight": np.zeros((4, 65), np.float32),
        "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight": np.zeros((128, 4), np.float32)})
    assert_failed(olive("convert-adapters", "--adapter_path", "big", "-o", "x", "--base", LLAMA, cwd=tmp_path),
                  "model.layers.0.mlp.up_proj", "[128, 64]")
    make_lora(tmp_path / "other", seed=2, extra={
        "base_model.model.model.layers.0.self_attn.qkv.lora_A.weight": np.zeros((4, 64), np.float32),
        "base_model.model.model.layers.0.self_attn.qkv.lora_B.weight": np.zeros((64, 4), np.float32)})
    assert_failed(olive("convert-adapters", "--adapter_path", "other", "-o", "x", "--base", LLAMA, cwd=tmp_path),
                  "model.layers.0.self_attn.qkv", "not in the base model")
    make_lora(tmp_path / "rank", seed=2, r=4, extra={
        "base_model.model.model.layers.0.mlp.up_proj.lora_A.weight": np.zeros((3, 64), np.float32),
        "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight": np.zeros((128, 3), np.float32)})
    assert_failed(olive("convert-adapters", "--adapter_path", "rank", "-o", "x", cwd=tmp_path),
                  "model.layers.0.mlp.up_proj", "r=4")
    assert not list(tmp_path.glob("x*"))


def merged_checkpoint(folder, layers, scaling):
    """The tiny Llama with W + scaling * B @ A in numpy: the reference for base + adapter."""
    shutil.copytree(LLAMA, folder)
    weights = read_safetensors(LLAMA / "model.safetensors")
    for module, (a, b) in layers.items():
        weights[module + ".weight"] = weights[module + ".weight"] + scaling * (b @ a)
    write_safetensors(pathlib.Path(folder) / "model.safetensors", weights)


def genai_logits(og, model, prompt, adapters=None, name=None):
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=64)
    gen = og.Generator(model, params)
    if name:
        gen.set_active_adapter(adapters, name)
    gen.append_tokens(np.asarray([prompt], dtype=np.int32))
    return np.array(gen.get_output("logits"), dtype=np.float32)


def test_generate_adapter_runs_adapters_in_genai(tmp_path):
    og = pytest.importorskip("onnxruntime_genai")
    lora1 = make_lora(tmp_path / "lora1", seed=1)
    lora2 = make_lora(tmp_path / "lora2", seed=3, r=2, alpha=4)  # the same modules, another rank
    r = olive("generate-adapter", "-m", LLAMA, "--adapter_path", "lora1", "-o", "base", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for n in ("lora1", "lora2"):
        r = olive("convert-adapters", "--adapter_path", n, "-o", f"base/{n}.onnx_adapter", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    refs = {}
    for n, layers, scaling in (("lora1", lora1, 2.0), ("lora2", lora2, 2.0)):
        merged_checkpoint(tmp_path / f"merged_{n}", layers, scaling)
        r = olive("run-pass", "--pass", "convert", "--param", "precision=fp32", "-m", f"merged_{n}", "-o",
                  f"ref_{n}", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = olive("run-pass", "--pass", "convert", "--param", "precision=fp32", "-m", LLAMA, "-o", "plain", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    prompt = [1, 5, 9, 13, 2, 7, 30, 11]
    for n in ("lora1", "lora2"):
        refs[n] = genai_logits(og, og.Model(str(tmp_path / f"ref_{n}")), prompt)
    plain = genai_logits(og, og.Model(str(tmp_path / "plain")), prompt)
    model = og.Model(str(tmp_path / "base"))
    adapters = og.Adapters(model)
    for n in ("lora1", "lora2"):
        adapters.load(str(tmp_path / "base" / f"{n}.onnx_adapter"), n)
    # switching adapters at run time, and none at all
    for n in ("lora1", "lora2", "lora1"):
        got = genai_logits(og, model, prompt, adapters, n)
        np.testing.assert_allclose(got, refs[n], atol=1e-4, rtol=1e-4)
        assert np.abs(got - plain).max() > 1e-2  # the adapter does change the logits
    np.testing.assert_allclose(genai_logits(og, model, prompt), plain, atol=1e-4, rtol=1e-4)


def test_generate_adapter_for_adapters_on_different_modules(tmp_path):
    """Two adapters on different modules share one base built from both: a module an adapter
    lacks keeps its input's default (empty A and B: no change)."""
    og = pytest.importorskip("onnxruntime_genai")
    lora1 = make_lora(tmp_path / "lora1", seed=1, targets=("q_proj", "down_proj"))
    lora2 = make_lora(tmp_path / "lora2", seed=3, r=2, alpha=4, targets=("k_proj", "o_proj", "gate_proj", "up_proj"))
    r = olive("generate-adapter", "-m", LLAMA, "--adapter_path", "lora1", "--adapter_path", "lora2", "-o", "base",
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    model = og.Model(str(tmp_path / "base"))
    adapters = og.Adapters(model)
    prompt = [1, 4, 8, 15, 16, 23, 42]
    for n, layers in (("lora1", lora1), ("lora2", lora2)):
        assert olive("convert-adapters", "--adapter_path", n, "-o", f"{n}.onnx_adapter", cwd=tmp_path).returncode == 0
        adapters.load(str(tmp_path / f"{n}.onnx_adapter"), n)
        merged_checkpoint(tmp_path / f"merged_{n}", layers, 2.0)
        r = olive("run-pass", "--pass", "convert", "--param", "precision=fp32", "-m", f"merged_{n}", "-o", f"ref_{n}",
                  cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        want = genai_logits(og, og.Model(str(tmp_path / f"ref_{n}")), prompt)
        np.testing.assert_allclose(genai_logits(og, model, prompt, adapters, n), want, atol=1e-4, rtol=1e-4)


def test_generate_adapter_refuses_adapters_that_do_not_fit(tmp_path):
    make_lora(tmp_path / "other", seed=2, extra={
        "base_model.model.model.layers.0.self_attn.qkv.lora_A.weight": np.zeros((4, 64), np.float32),
        "base_model.model.model.layers.0.self_attn.qkv.lora_B.weight": np.zeros((64, 4), np.float32)})
    r = olive("generate-adapter", "-m", LLAMA, "--adapter_path", "other", "-o", "out", cwd=tmp_path)
    assert_failed(r, "model.layers.0.self_attn.qkv", "matches no Linear")
    make_lora(tmp_path / "big", seed=2, extra={
        "base_model.model.model.layers.0.mlp.up_proj.lora_A.weight": np.zeros((4, 65), np.float32),
        "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight": np.zeros((128, 4), np.float32)})
    r = olive("generate-adapter", "-m", LLAMA, "--adapter_path", "big", "-o", "out", cwd=tmp_path)
    assert_failed(r, "model.layers.0.mlp.up_proj", "65")
    make_lora(tmp_path / "dora", seed=2, config={"use_dora": True})
    assert_failed(olive("generate-adapter", "-m", LLAMA, "--adapter_path", "dora", "-o", "out", cwd=tmp_path), "DoRA")
    assert not (tmp_path / "out").exists()


def test_adapter_on_a_base_without_adapter_inputs_is_refused_by_genai(tmp_path):
    """A base converted without --adapter_path has no LoRA inputs: ONNX Runtime GenAI refuses
    to run the adapter on it (the error names the parameter)."""
    og = pytest.importorskip("onnxruntime_genai")
    make_lora(tmp_path / "lora", seed=1)
    assert olive("convert-adapters", "--adapter_path", "lora", "-o", "a.onnx_adapter", cwd=tmp_path).returncode == 0
    r = olive("run-pass", "--pass", "convert", "--param", "precision=fp32", "-m", LLAMA, "-o", "plain", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    model = og.Model(str(tmp_path / "plain"))
    adapters = og.Adapters(model)
    adapters.load(str(tmp_path / "a.onnx_adapter"), "a")
    with pytest.raises(Exception, match="lora_A.weight|lora_B.weight"):
        genai_logits(og, model, [1, 2, 3], adapters, "a")
