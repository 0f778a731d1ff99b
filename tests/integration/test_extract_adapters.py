"""The extract_adapters pass (Olive's ExtractAdapters) on TorchScript-style LoRA models (float
and QDQ weights) and on models whose initializers carry PEFT's names: the weights written to
adapter_weights.onnx_adapter (read back with onnxruntime's AdapterFormat) and fed as inputs give
the original model's outputs in onnxruntime; without them the inputs' empty defaults give the
base model's. Names, input shapes and the rewired graph equal Olive's own pass functions' on the
same model. Refused settings fail and write nothing."""

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from test_surgeries import OLIVE  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

HID, R = 8, 2


def pack_int4(a):
    """A [K, N] as MatMulNBits' 4-bit B [N, 1, 8] (one block of 16, K padded with zeros),
    symmetric with zero point 8, and its scales [N]; the dequantized A alongside."""
    k, n = a.shape
    scale = np.abs(a).max(axis=0) / 7
    q = np.clip(np.round(a / scale), -8, 7).astype(np.int32) + 8
    q = np.concatenate([q, np.full((16 - k, n), 8, np.int32)]).T  # [N, 16]
    packed = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8).reshape(n, 1, 8)
    return packed, scale.astype(np.float32)


def lora_model(prefixes, qdq_module=None, dynamo=False, seed=0, per_tensor=False, nbits_module=None):
    """x @ W + (x @ A) @ B per module, chained. `prefixes` name each LoRA MatMul pair the way a
    TorchScript export of a PEFT model does; `qdq_module` (an index) has its A fed through a
    DequantizeLinear; `dynamo` names the initializers themselves with lora_A / lora_B."""
    rng = np.random.default_rng(seed)
    nodes, inits, x = [], [], "x"
    for i, (pa, pb) in enumerate(prefixes):
        w = rng.standard_normal((HID, HID)).astype(np.float32)
        a = rng.standard_normal((HID, R)).astype(np.float32)
        b = rng.standard_normal((R, HID)).astype(np.float32)
        an = f"model.layers.{i}.proj.lora_A.weight" if dynamo else f"onnx::MatMul_{10 + 2 * i}"
        bn = f"model.layers.{i}.proj.lora_B.weight" if dynamo else f"onnx::MatMul_{11 + 2 * i}"
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, bn)]
        if qdq_module == i:
            scale = np.float32(0.05) if per_tensor else np.linspace(0.03, 0.06, R, dtype=np.float32)
            q = np.clip(np.round(a / scale), -127, 127).astype(np.int8)
            inits += [numpy_helper.from_array(q, f"{an}_q"), numpy_helper.from_array(scale, f"{an}_s"),
                      numpy_helper.from_array(np.zeros_like(scale, np.int8), f"{an}_z")]
            nodes.append(helper.make_node("DequantizeLinear", [f"{an}_q", f"{an}_s", f"{an}_z"], [f"{an}_dq"],
                                          name=f"dq{i}", **({} if per_tensor else {"axis": 1})))
            a_in = f"{an}_dq"
        elif nbits_module == i:
            packed, scale = pack_int4(a)
            inits += [numpy_helper.from_array(packed, f"{an}_Q4"), numpy_helper.from_array(scale, f"{an}_scales")]
        else:
            inits.append(numpy_helper.from_array(a, an))
            a_in = an
        if nbits_module == i:
            lora_a = helper.make_node("MatMulNBits", [x, f"{an}_Q4", f"{an}_scales"], [f"xa{i}"], name=pa + "_Q4",
                                      domain="com.microsoft", K=HID, N=R, bits=4, block_size=16)
        else:
            lora_a = helper.make_node("MatMul", [x, a_in], [f"xa{i}"], name=pa)
        nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"base{i}"], name=f"/model/layers.{i}/proj/MatMul"),
                  lora_a,
                  helper.make_node("MatMul", [f"xa{i}", bn], [f"xab{i}"], name=pb),
                  helper.make_node("Add", [f"base{i}", f"xab{i}"], [f"y{i}"], name=f"/model/layers.{i}/proj/Add")]
        x = f"y{i}"
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, HID])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", 3, HID])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


TORCHSCRIPT = [("/model/layers.0/proj/lora_A/MatMul", "/model/layers.0/proj/lora_B/MatMul"),
               ("/model/layers.1/proj/default/MatMul", "/model/layers.1/proj/default_1/MatMul")]


def run_pass(m, tmp_path, *params):
    src, dst = tmp_path / "in.onnx", tmp_path / "out" / "model.onnx"
    dst.parent.mkdir(exist_ok=True)
    onnx.save(m, str(src))
    proc = subprocess.run([TOOL, "ExtractAdapters", str(src), str(dst), *params], capture_output=True, text=True,
                          timeout=120)
    return proc, dst


def ort_run(model, feeds):
    # unoptimized: onnxruntime fuses a constant DequantizeLinear -> MatMul into an integer
    # MatMul, which a weight fed at run time cannot be
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)[0]


def read_adapter(path):
    fmt = ort.AdapterFormat.read_adapter(str(path))
    return {k: np.array(v.numpy(), copy=True) for k, v in fmt.get_parameters().items()}


def base_only(m):
    """The model with every LoRA product zeroed: what the empty defaults must give."""
    z = onnx.ModelProto()
    z.CopyFrom(m)
    for t in z.graph.initializer:
        number = t.name.rsplit("_", 1)[-1]
        if "lora_B" in t.name or t.name.startswith("onnx::MatMul_") and number.isdigit() and int(number) % 2:
            t.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(t)), t.name))
    return z


def dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


@pytest.mark.parametrize("qdq", [None, 0])
def test_weights_as_inputs_give_the_original_outputs(tmp_path, qdq):
    m = lora_model(TORCHSCRIPT, qdq_module=qdq)
    proc, dst = run_pass(m, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))
    onnx.checker.check_model(out)
    weights = read_adapter(dst.parent / "adapter_weights.onnx_adapter")
    assert not any(t.name in weights and np.prod(t.dims) for t in out.graph.initializer), "weights left in the model"
    x = np.random.default_rng(1).standard_normal((2, 3, HID)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(out, {"x": x, **weights}), ort_run(m, {"x": x}))
    np.testing.assert_allclose(ort_run(out, {"x": x}), ort_run(base_only(m), {"x": x}), rtol=1e-6, atol=1e-6)
    inputs = {i.name: dims(i) for i in out.graph.input}
    a = "model.layers.0.proj.lora_A." + ("quant.weight" if qdq == 0 else "weight")
    assert inputs[a] == [HID, "lora_r"]
    assert inputs["model.layers.0.proj.lora_B.weight"] == ["lora_r", HID]
    assert inputs["model.layers.1.proj.lora_B.weight"] == ["lora_r", HID]
    if qdq == 0:
        assert inputs["model.layers.0.proj.lora_A.quant.scale"] == ["lora_r"]


def test_matmulnbits_weights_are_required_inputs(tmp_path):
    m = lora_model(TORCHSCRIPT, nbits_module=1)
    proc, dst = run_pass(m, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))
    weights = read_adapter(dst.parent / "adapter_weights.onnx_adapter")
    stem = "model.layers.1.proj.default.MatMul_Q4".replace("default.", "lora_A.").replace("MatMul_Q4", "")
    assert {stem + "quant.weight", stem + "quant.scale"} <= set(weights), sorted(weights)
    inputs = {i.name: dims(i) for i in out.graph.input}
    assert inputs[stem + "quant.weight"] == [R, 1, 8]  # N and K are the node's attributes: nothing dynamic
    assert not {stem + "quant.weight", stem + "quant.scale"} & {t.name for t in out.graph.initializer}
    x = np.random.default_rng(3).standard_normal((1, 3, HID)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(out, {"x": x, **weights}), ort_run(m, {"x": x}))


def test_dynamo_names_and_required_inputs(tmp_path):
    m = lora_model(TORCHSCRIPT, dynamo=True)
    proc, dst = run_pass(m, tmp_path, "optional_inputs=false", "dynamic_lora_r=false")
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))
    weights = read_adapter(dst.parent / "adapter_weights.onnx_adapter")
    assert sorted(weights) == sorted(t.name for t in m.graph.initializer if "lora_" in t.name)
    assert not {t.name for t in out.graph.initializer} & set(weights)
    assert {i.name: dims(i) for i in out.graph.input}["model.layers.1.proj.lora_B.weight"] == [R, HID]
    x = np.random.default_rng(2).standard_normal((1, 3, HID)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(out, {"x": x, **weights}), ort_run(m, {"x": x}))


def test_model_without_lora_is_unchanged(tmp_path):
    m = lora_model([("/model/layers.0/proj/a/MatMul", "/model/layers.0/proj/b/MatMul")])
    proc, dst = run_pass(m, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = onnx.load(str(dst))
    assert [i.name for i in out.graph.input] == ["x"]
    assert not (dst.parent / "adapter_weights.onnx_adapter").exists()


@pytest.mark.parametrize("fmt", ["numpy", "safetensors"])
def test_other_weight_files(tmp_path, fmt):
    """save_format numpy / safetensors: the files np.savez and safetensors write, read back with
    numpy and a safetensors reader, fed as inputs."""
    m = lora_model(TORCHSCRIPT, qdq_module=0, per_tensor=True)  # a scalar scale: these formats hold it
    proc, dst = run_pass(m, tmp_path, f"save_format={fmt}")
    assert proc.returncode == 0, proc.stderr
    if fmt == "numpy":
        with np.load(dst.parent / "adapter_weights.npz") as z:
            weights = {k: z[k] for k in z.files}
    else:
        st = pytest.importorskip("safetensors.numpy")
        weights = st.load_file(str(dst.parent / "adapter_weights.safetensors"))
    assert weights["model.layers.0.proj.lora_A.quant.scale"].shape == ()
    assert weights["model.layers.0.proj.lora_A.quant.weight"].dtype == np.int8
    out = onnx.load(str(dst))
    assert sorted(weights) == sorted(i.name for i in out.graph.input if i.name != "x")
    x = np.random.default_rng(4).standard_normal((1, 3, HID)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(out, {"x": x, **weights}), ort_run(m, {"x": x}))


@pytest.mark.parametrize("params,words", [(["make_inputs=false"], ["make_inputs"]),
                                          (["adapter_type=dora"], ["adapter_type", "dora"]),
                                          (["save_format=pt"], ["save_format", "pt"]),
                                          (["per_tensor"], ["lora_A.quant.scale", "scalar"])])
def test_refused_settings_write_nothing(tmp_path, params, words):
    per_tensor = params == ["per_tensor"]
    m = lora_model(TORCHSCRIPT, qdq_module=0 if per_tensor else None, per_tensor=per_tensor)
    proc, dst = run_pass(m, tmp_path, *([] if per_tensor else params))
    assert proc.returncode != 0 and not dst.exists()
    assert not (dst.parent / "adapter_weights.onnx_adapter").exists()
    for w in words:
        assert w in proc.stderr, proc.stderr


@pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed")
# (Olive's QDQ branch looks its consumer node up by name, which onnx_ir's graph does not
# index, so it cannot run as a reference here; the QDQ output is checked by its outputs above.)
@pytest.mark.parametrize("qdq,dynamo", [(None, False), (None, True)])
def test_like_olive(tmp_path, qdq, dynamo):
    from olive.passes.onnx.extract_adapters import ExtractAdapters  # noqa: PLC0415 - loaded with Olive
    onnx_ir = OLIVE[2]
    m = lora_model(TORCHSCRIPT, qdq_module=qdq, dynamo=dynamo)
    proc, dst = run_pass(m, tmp_path)
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    ours_w = read_adapter(dst.parent / "adapter_weights.onnx_adapter")

    # Olive's own steps of ExtractAdapters._run_for_config with make_inputs (the file I/O aside)
    im = onnx_ir.from_proto(m)
    p = object.__new__(ExtractAdapters)
    cfg = SimpleNamespace(make_inputs=True, dynamic_lora_r=True, optional_inputs=True, adapter_type="lora")
    theirs_w = p._extract_adapter_from_dynamo(im) if dynamo else p._extract_adapter(im, cfg)
    for name in theirs_w:
        p._convert_initializer_to_input(im, name)
        p._make_dynamic_optional(im, theirs_w, name, cfg)
    theirs = onnx_ir.to_proto(im)

    assert sorted(ours_w) == sorted(theirs_w)  # onnxruntime reads the file's parameters unordered
    for k, v in theirs_w.items():
        assert ours_w[k].dtype == v.dtype
        np.testing.assert_array_equal(ours_w[k], v)
    # Olive appends each optional input twice; the inputs themselves are the same
    their_inputs = {}
    for i in theirs.graph.input:
        their_inputs.setdefault(i.name, dims(i))
    assert {i.name: dims(i) for i in ours.graph.input} == their_inputs
    assert [i.name for i in ours.graph.input] == list(their_inputs)
    init = {t.name: list(t.dims) for t in theirs.graph.initializer}
    assert {t.name: list(t.dims) for t in ours.graph.initializer} == init
    key = lambda n: (n.op_type, n.name, list(n.input), list(n.output))  # noqa: E731
    assert sorted(map(key, ours.graph.node)) == sorted(map(key, theirs.graph.node))


@pytest.mark.skipif(not os.environ.get("OLIVE_CLI"), reason="OLIVE_CLI is not set (run through meson test)")
def test_extracted_adapter_runs_in_genai(tmp_path):
    """The tiny Llama with a PEFT adapter's weights baked in as initializers (the converter's
    LoRA inputs replaced by the adapter's values): ExtractAdapters gives them back as inputs and
    an adapter file that ONNX Runtime GenAI loads, and the logits with it equal the baked
    model's; without it, the base model's."""
    og = pytest.importorskip("onnxruntime_genai")
    import shutil  # noqa: PLC0415

    from test_adapters import LLAMA, genai_logits, make_lora, olive  # noqa: PLC0415
    make_lora(tmp_path / "lora", seed=5)
    assert olive("generate-adapter", "-m", LLAMA, "--adapter_path", "lora", "-o", "base", cwd=tmp_path).returncode == 0
    assert olive("convert-adapters", "--adapter_path", "lora", "-o", "lora.onnx_adapter", cwd=tmp_path).returncode == 0
    given = read_adapter(tmp_path / "lora.onnx_adapter")

    baked = onnx.load(str(tmp_path / "base" / "model.onnx"))
    lora_inputs = [i for i in baked.graph.input if i.name in given]
    assert len(lora_inputs) == len(given)
    for i in lora_inputs:
        baked.graph.input.remove(i)
    for t in baked.graph.initializer:
        if t.name in given:
            t.CopyFrom(numpy_helper.from_array(given[t.name], t.name))
    shutil.copytree(tmp_path / "base", tmp_path / "baked", ignore=shutil.ignore_patterns("model.onnx*"))
    onnx.save(baked, str(tmp_path / "baked" / "model.onnx"), save_as_external_data=True, location="model.onnx.data")

    shutil.copytree(tmp_path / "base", tmp_path / "out", ignore=shutil.ignore_patterns("model.onnx*"))
    proc = subprocess.run([TOOL, "ExtractAdapters", str(tmp_path / "baked" / "model.onnx"),
                           str(tmp_path / "out" / "model.onnx")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    extracted = read_adapter(tmp_path / "out" / "adapter_weights.onnx_adapter")
    assert sorted(extracted) == sorted(given)
    for k, v in given.items():
        np.testing.assert_array_equal(extracted[k], v)

    prompt = [1, 5, 9, 13, 2, 7, 30, 11]
    want = genai_logits(og, og.Model(str(tmp_path / "baked")), prompt)
    plain = genai_logits(og, og.Model(str(tmp_path / "base")), prompt)
    model = og.Model(str(tmp_path / "out"))
    adapters = og.Adapters(model)
    adapters.load(str(tmp_path / "out" / "adapter_weights.onnx_adapter"), "lora")
    np.testing.assert_allclose(genai_logits(og, model, prompt, adapters, "lora"), want, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(genai_logits(og, model, prompt), plain, atol=1e-5, rtol=1e-5)
    assert np.abs(want - plain).max() > 1e-2


def olive_cli(*args, cwd):
    cli = os.environ.get("OLIVE_CLI")
    if not cli:
        pytest.skip("OLIVE_CLI is not set (run through meson test)")
    return subprocess.run([cli, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_extract_adapters_command(tmp_path):
    """`olive extract-adapters`: the pass as a command. The weights file in the output folder fed
    as inputs gives the original outputs, no adapter the base model's; the flags map to
    save_format, dynamic_lora_r and optional_inputs."""
    m = lora_model(TORCHSCRIPT, qdq_module=0)
    onnx.save(m, str(tmp_path / "in.onnx"))
    r = olive_cli("extract-adapters", "-m", "in.onnx", "-o", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = onnx.load(str(tmp_path / "out" / "model.onnx"))
    weights = read_adapter(tmp_path / "out" / "adapter_weights.onnx_adapter")
    x = np.random.default_rng(5).standard_normal((2, 3, HID)).astype(np.float32)
    np.testing.assert_array_equal(ort_run(out, {"x": x, **weights}), ort_run(m, {"x": x}))
    np.testing.assert_allclose(ort_run(out, {"x": x}), ort_run(base_only(m), {"x": x}), rtol=1e-6, atol=1e-6)
    assert {i.name: dims(i) for i in out.graph.input}["model.layers.0.proj.lora_B.weight"] == ["lora_r", HID]

    st = pytest.importorskip("safetensors.numpy")
    m = lora_model(TORCHSCRIPT, dynamo=True)
    onnx.save(m, str(tmp_path / "dynamo.onnx"))
    r = olive_cli("extract-adapters", "-m", "dynamo.onnx", "-o", "out2", "-f", "safetensors", "--static_lora_r",
                  "--required_inputs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = onnx.load(str(tmp_path / "out2" / "model.onnx"))
    weights = st.load_file(str(tmp_path / "out2" / "adapter_weights.safetensors"))
    assert sorted(weights) == sorted(t.name for t in m.graph.initializer if "lora_" in t.name)
    assert not {t.name for t in out.graph.initializer} & set(weights)  # no empty defaults
    assert {i.name: dims(i) for i in out.graph.input}["model.layers.1.proj.lora_B.weight"] == [R, HID]
    np.testing.assert_array_equal(ort_run(out, {"x": x, **weights}), ort_run(m, {"x": x}))


@pytest.mark.parametrize("args,status,words", [
    (["-m", "in.onnx", "-o", "out", "-f", "pickle"], 2, ["--format", "pickle"]),
    (["-m", "in.onnx", "-o", "out", "-f", "pt"], 1, ["save_format", "pt"]),
    (["-m", "missing.onnx", "-o", "out"], 1, ["missing.onnx"]),
    (["-m", "in.onnx"], 2, ["-o"])])
def test_extract_adapters_command_refuses_and_writes_nothing(tmp_path, args, status, words):
    onnx.save(lora_model(TORCHSCRIPT), str(tmp_path / "in.onnx"))
    r = olive_cli("extract-adapters", *args, cwd=tmp_path)
    errors = [line for line in r.stderr.splitlines() if line.startswith("olive: error: ")]
    assert r.returncode == status and len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0], errors[0]
    assert not (tmp_path / "out").exists()
