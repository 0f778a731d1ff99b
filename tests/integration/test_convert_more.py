"""The convert pass on Phi-3 (plain RoPE, and LongRoPE with partial rotary), Phi-3.5-mini (LongRoPE
over the whole head, a window longer than the context), Phi-4-mini (LongRoPE, partial rotary 0.75,
tied embeddings), Gemma, Gemma 2 and Gemma 3 (text), against Hugging Face transformers.

Tiny random checkpoints in tests/data/convert/<name>/ (FIXTURES), made by make_more_fixtures.py,
hold transformers' logits for a 6-token prefill, one decode step with the prefill's past, the KV
cache after it, one 25-token pass without cache (past Gemma 2's window of 4 and past LongRoPE's
original context of 8), and a 20-token greedy generation. Each checkpoint is converted with `olive
run-pass --pass convert`; onnxruntime must reproduce the logits (1e-4 in fp32, 2e-2 in fp16), int4
must agree on the top token at >= 90% of positions and hold exactly the weights the quantize pass
writes for the fp32 output (the fixtures' weights lie on the int4 grid, so int4 with float
activations must match transformers like fp32), and onnxruntime-genai must load the folder and
generate transformers' 20 tokens. Bad configs give a clear error and no output folder.
"""

import collections
import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402
from olive_testlib import check_with_contrib_layernorm, read_safetensors, run_convert  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
APPLY = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert"
FIXTURES = ["phi3", "phi3_longrope", "phi35_mini", "phi4_mini", "gemma", "gemma2", "gemma3"]
LAYERS = 2


def convert(src, out, *params, expect_ok=True):
    return run_convert(CLI, src, out, *params, expect_ok=expect_ok)


def load(out):
    path = pathlib.Path(out) / "model.onnx"
    assert path.is_file(), sorted(os.listdir(out))
    model = check_with_contrib_layernorm(path)
    return path, model


def config(fixture):
    with open(DATA / fixture / "config.json") as f:
        return json.load(f)


def reference(fixture):
    with open(DATA / fixture / "reference.json") as f:
        return np.load(DATA / fixture / "reference.npz"), json.load(f)


def kv_shape(cfg):
    head = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    return cfg["num_key_value_heads"], head


class Decoder:
    """Runs the converted graph the way onnxruntime-genai does: BNSH past in, present out."""

    def __init__(self, path, cfg):
        self.sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.sess.get_inputs()}
        self.outputs = [o.name for o in self.sess.get_outputs()]
        self.kv, self.head = kv_shape(cfg)
        self.dtype = np.float16 if self.inputs["past_key_values.0.key"].type == "tensor(float16)" else np.float32

    def run(self, ids, past=None):
        past_len = 0 if past is None else past["past_key_values.0.key"].shape[2]
        feeds = {"input_ids": ids.astype(np.int64),
                 "attention_mask": np.ones((1, past_len + ids.shape[1]), np.int64)}
        for i in range(LAYERS):
            for kind in ("key", "value"):
                name = f"past_key_values.{i}.{kind}"
                feeds[name] = past[name] if past else np.zeros((1, self.kv, 0, self.head), self.dtype)
        got = dict(zip(self.outputs, self.sess.run(None, feeds)))
        present = {f"past_key_values.{i}.{k}": got[f"present.{i}.{k}"] for i in range(LAYERS) for k in ("key", "value")}
        return got["logits"].astype(np.float32), present, got


def check_logits(fixture, path, tol, rel=0.0):
    """Prefill, decode with the prefill's past, and the 25-token pass: the largest errors, each
    at most max(tol, rel * the largest magnitude of what it is compared with)."""
    ref, _ = reference(fixture)
    dec = Decoder(path, config(fixture))
    errs, bounds = {}, {}

    def record(name, have, want):
        errs[name] = float(np.abs(have - want).max())
        bounds[name] = max(tol, rel * float(np.abs(want).max()))

    logits, past, _ = dec.run(ref["prefill_ids"])
    record("prefill", logits, ref["prefill_logits"])
    logits, _, got = dec.run(ref["decode_ids"], past)
    record("decode", logits, ref["decode_logits"])
    for i in range(LAYERS):
        for kind in ("key", "value"):
            want = ref[f"present_{i}_{kind}"]
            have = got[f"present.{i}.{kind}"].astype(np.float32)
            # transformers keeps only the last positions of a sliding-window layer
            record(f"present.{i}.{kind}", have[:, :, -want.shape[2]:], want)
    logits, _, _ = dec.run(ref["sequence_ids"])
    record("sequence", logits, ref["sequence_logits"])
    for name, err in errs.items():
        assert err <= bounds[name], (f"{fixture}: {name} differs from transformers by {err:.3g} "
                                     f"(tolerance {bounds[name]:.3g})")
    return errs


def initializers(model):
    return {t.name: t for t in model.graph.initializer}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def nodes(model, op):
    return [n for n in model.graph.node if n.op_type == op]


@pytest.fixture(scope="module")
def fp32_out(tmp_path_factory):
    """Each fixture converted once in fp32 (shared by the tests that only read it)."""
    root = tmp_path_factory.mktemp("fp32")
    done = {}

    def get(fixture):
        if fixture not in done:
            convert(DATA / fixture, root / fixture, "precision=fp32")
            done[fixture] = root / fixture
        return done[fixture]
    return get


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fp32_matches_transformers(fixture, fp32_out):
    path, model = load(fp32_out(fixture))
    assert [i.name for i in model.graph.input][:2] == ["input_ids", "attention_mask"]
    assert [o.name for o in model.graph.output][0] == "logits"
    ops = collections.Counter(n.op_type for n in model.graph.node)
    assert ops["GroupQueryAttention"] == LAYERS, ops
    assert all(n.domain == "com.microsoft" for n in nodes(model, "GroupQueryAttention"))
    errs = check_logits(fixture, path, 1e-4)
    print(fixture, {k: f"{v:.1e}" for k, v in errs.items()})


def test_phi3_packed_projections(fp32_out):
    """qkv_proj feeds one packed MatMul; gate_up_proj is split into gate and up MatMuls whose
    weights are the two halves of the checkpoint tensor, transposed; the window is on every
    layer."""
    _, model = load(fp32_out("phi3"))
    cfg = config("phi3")
    weights = read_safetensors(DATA / "phi3" / "model.safetensors")
    init = initializers(model)
    by_input = {}
    for n in nodes(model, "MatMul"):
        by_input[n.input[1]] = n
    inter = cfg["intermediate_size"]
    gate_up = weights["model.layers.0.mlp.gate_up_proj.weight"]
    qkv = weights["model.layers.0.self_attn.qkv_proj.weight"]
    mats = [numpy_helper.to_array(init[name]) for name in by_input if name in init]
    assert any(m.shape == qkv.T.shape and np.array_equal(m, qkv.T) for m in mats), "packed qkv weight not found"
    assert any(np.array_equal(m, gate_up[:inter].T) for m in mats if m.shape == (cfg["hidden_size"], inter))
    assert any(np.array_equal(m, gate_up[inter:].T) for m in mats if m.shape == (cfg["hidden_size"], inter))
    # Phi-3's sliding window applies to every layer
    assert [attrs(n)["local_window_size"] for n in nodes(model, "GroupQueryAttention")] == [cfg["sliding_window"]] * LAYERS


@pytest.mark.parametrize("fixture", ["phi3_longrope", "phi35_mini", "phi4_mini"])
def test_phi3_longrope_caches(fixture, fp32_out):
    """Two cos/sin pairs (short: the original context's rows, long: max_position_embeddings
    rows, half the rotary size wide) chosen by an If on the sequence length."""
    path, model = load(fp32_out(fixture))
    cfg = config(fixture)
    half = int(cfg["hidden_size"] // cfg["num_attention_heads"] * cfg.get("partial_rotary_factor", 1.0)) // 2
    ifs = nodes(model, "If")
    assert len(ifs) == 1
    gqa = nodes(model, "GroupQueryAttention")
    assert all(n.input[7] == ifs[0].output[0] and n.input[8] == ifs[0].output[1] for n in gqa)
    shapes = sorted(tuple(t.dims) for t in model.graph.initializer if "cache" in t.name)
    assert shapes == sorted([(cfg["original_max_position_embeddings"], half)] * 2 +
                            [(cfg["max_position_embeddings"], half)] * 2), shapes
    # A prefill of exactly the original context uses the short factors and one token more
    # switches to the long ones (transformers: long once max position + 1 > original). The
    # reference's 25-token pass starts with the 6-token prompt, so its first positions give
    # the long-factor reference and the prompt's own logits the short-factor one.
    ref, _ = reference(fixture)
    dec = Decoder(path, cfg)
    orig = cfg["original_max_position_embeddings"]
    seq = ref["sequence_ids"]
    plen = ref["prefill_ids"].shape[1]
    assert np.array_equal(seq[:, :plen], ref["prefill_ids"]) and plen < orig
    short, _, _ = dec.run(seq[:, :orig])
    long_, _, _ = dec.run(seq[:, :orig + 1])
    assert np.abs(short[:, :plen] - ref["prefill_logits"]).max() <= 1e-4
    assert np.abs(long_ - ref["sequence_logits"][:, :orig + 1]).max() <= 1e-4
    assert np.abs(long_[:, :plen] - ref["prefill_logits"]).max() > 1e-2, "long factors never used"


def test_phi35_mini_window_beyond_context(fp32_out):
    """A sliding_window longer than the context is no window at all."""
    _, model = load(fp32_out("phi35_mini"))
    assert config("phi35_mini")["sliding_window"] > config("phi35_mini")["max_position_embeddings"]
    assert [attrs(n)["local_window_size"] for n in nodes(model, "GroupQueryAttention")] == [-1] * LAYERS


def test_phi4_mini_tied_head(fp32_out):
    """Phi-4-mini's LM head is the embedding table: stored once, transposed for the head's
    MatMul and read back through a Transpose by the embedding Gather."""
    _, model = load(fp32_out("phi4_mini"))
    emb = read_safetensors(DATA / "phi4_mini" / "model.safetensors")["model.embed_tokens.weight"]
    init = initializers(model)
    assert "model.embed_tokens.weight" not in init
    assert np.array_equal(numpy_helper.to_array(init["lm_head.MatMul.weight"]), emb.T)
    assert any(n.op_type == "Transpose" and n.input[0] == "lm_head.MatMul.weight" for n in model.graph.node)


def test_gemma_conventions(fp32_out):
    """Norm weights are stored as 1 + w, embeddings are scaled by sqrt(hidden), GELU uses the
    tanh approximation."""
    _, model = load(fp32_out("gemma"))
    cfg = config("gemma")
    weights = read_safetensors(DATA / "gemma" / "model.safetensors")
    init = {n: numpy_helper.to_array(t) for n, t in initializers(model).items()}
    w = weights["model.layers.0.input_layernorm.weight"]
    assert any(v.shape == w.shape and np.array_equal(v, (1.0 + w).astype(np.float32)) for v in init.values())
    consts = list(init.values()) + [numpy_helper.to_array(attrs(n)["value"]) for n in nodes(model, "Constant")
                                    if "value" in attrs(n)]
    scalars = [float(v.reshape(-1)[0]) for v in consts if v.size == 1 and v.dtype == np.float32]
    assert any(abs(s - cfg["hidden_size"] ** 0.5) < 1e-6 for s in scalars), scalars
    ops = collections.Counter(n.op_type for n in model.graph.node)
    gelus = [n for n in model.graph.node if n.op_type == "FastGelu" or
             (n.op_type == "Gelu" and attrs(n).get("approximate") in (b"tanh", "tanh"))]
    assert len(gelus) == LAYERS, ops
    assert ops["Sigmoid"] == 0


def test_gemma2_attention_attributes(fp32_out):
    """Soft-capping, the query_pre_attn_scalar scale and the window on sliding layers only."""
    _, model = load(fp32_out("gemma2"))
    cfg = config("gemma2")
    gqa = nodes(model, "GroupQueryAttention")
    for layer, n in enumerate(gqa):
        a = attrs(n)
        assert a["softcap"] == pytest.approx(cfg["attn_logit_softcapping"])
        assert a["scale"] == pytest.approx(cfg["query_pre_attn_scalar"] ** -0.5, rel=1e-6)
        sliding = cfg["layer_types"][layer] == "sliding_attention"
        assert a["local_window_size"] == (cfg["sliding_window"] if sliding else -1)
    assert len(nodes(model, "Tanh")) == 1, "final logit soft-capping"


def test_gemma3_local_and_global_attention(fp32_out):
    """Per-head q/k norms (weights stored as 1 + w), the query_pre_attn_scalar scale, and two
    cache pairs: the sliding layer reads the local-base pair and has the window, the global
    layer reads the scaled pair and none."""
    _, model = load(fp32_out("gemma3"))
    cfg = config("gemma3")
    weights = read_safetensors(DATA / "gemma3" / "model.safetensors")
    init = {n: numpy_helper.to_array(t) for n, t in initializers(model).items()}
    q = weights["model.layers.0.self_attn.q_norm.weight"]
    assert any(v.shape == q.shape and np.array_equal(v, (1.0 + q).astype(np.float32)) for v in init.values())
    assert len([n for n in nodes(model, "SimplifiedLayerNormalization") if "q_norm" in n.name]) == LAYERS
    caches = {"local": (init["cos_cache_local"], init["sin_cache_local"]),
              "global": (init["cos_cache_global"], init["sin_cache_global"])}
    rp = cfg["rope_parameters"]
    half = cfg["head_dim"] // 2
    pos = np.arange(cfg["max_position_embeddings"], dtype=np.float64)[:, None]
    for kind, base, factor in (("local", rp["sliding_attention"]["rope_theta"], 1.0),
                               ("global", rp["full_attention"]["rope_theta"], rp["full_attention"]["factor"])):
        inv = 1.0 / (base ** (np.arange(half) * 2.0 / cfg["head_dim"])) / factor
        np.testing.assert_allclose(caches[kind][0], np.cos(pos * inv), atol=2e-5)
        np.testing.assert_allclose(caches[kind][1], np.sin(pos * inv), atol=2e-5)
    for layer, n in enumerate(nodes(model, "GroupQueryAttention")):
        a = attrs(n)
        sliding = cfg["layer_types"][layer] == "sliding_attention"
        assert n.input[7] == ("cos_cache_local" if sliding else "cos_cache_global")
        assert a["local_window_size"] == (cfg["sliding_window"] if sliding else -1)
        assert a["scale"] == pytest.approx(cfg["query_pre_attn_scalar"] ** -0.5, rel=1e-6)
        assert a["softcap"] == 0


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fp16_close_to_transformers(fixture, tmp_path):
    convert(DATA / fixture, tmp_path / "out", "precision=fp16")
    path, model = load(tmp_path / "out")
    float_inits = [t for t in model.graph.initializer if t.data_type in (onnx.TensorProto.FLOAT,
                                                                         onnx.TensorProto.FLOAT16)]
    assert all(t.data_type == onnx.TensorProto.FLOAT16 for t in float_inits if len(t.dims) == 2)
    # fp16 keeps about three digits: 2e-2, or 1% of the largest logit / cached value where
    # those are bigger (onnxruntime-genai's builder's fp16 output of these checkpoints is off
    # by as much: 0.022 on phi3's 25-token pass, 0.035 on phi3_longrope's, logits up to 6.3).
    errs = check_logits(fixture, path, 2e-2, rel=1e-2)
    print(fixture, {k: f"{v:.1e}" for k, v in errs.items()})


@pytest.mark.parametrize("fixture", FIXTURES)
def test_int4_top1_and_quantize_identity(fixture, tmp_path, fp32_out):
    out = tmp_path / "int4"
    convert(DATA / fixture, out, "precision=int4", "block_size=32")
    path, model = load(out)
    assert len(nodes(model, "MatMulNBits")) >= 4 * LAYERS
    ref, _ = reference(fixture)
    logits, _, _ = Decoder(path, config(fixture)).run(ref["sequence_ids"])
    agree = float(np.mean(logits.argmax(-1) == ref["sequence_logits"].argmax(-1)))
    assert agree >= 0.9, f"{fixture}: int4 top-1 agreement {agree:.2f}"

    if not APPLY:
        return
    # The quantize pass on the fp32 output must give the same MatMulNBits weights.
    fp32_path = fp32_out(fixture) / "model.onnx"
    requant = tmp_path / "requant.onnx"
    proc = subprocess.run([APPLY, "quantize", str(fp32_path), str(requant), "bits=4", "block_size=32",
                           "is_symmetric=true"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    want = {n.input[1]: n for n in nodes(onnx.load(str(requant)), "MatMulNBits")}
    want_init = initializers(onnx.load(str(requant)))
    have_init = initializers(model)
    compared = 0
    for n in nodes(model, "MatMulNBits"):
        a = attrs(n)
        match = [m for m in want.values() if attrs(m)["K"] == a["K"] and attrs(m)["N"] == a["N"] and
                 np.array_equal(numpy_helper.to_array(want_init[m.input[1]]),
                                numpy_helper.to_array(have_init[n.input[1]]))]
        assert match, f"{fixture}: {n.name} has no bit-identical counterpart in the quantize pass output"
        np.testing.assert_array_equal(numpy_helper.to_array(have_init[n.input[2]]),
                                      numpy_helper.to_array(want_init[match[0].input[2]]))
        compared += 1
    assert compared >= 4 * LAYERS


@pytest.mark.parametrize("fixture", FIXTURES)
def test_int4_float_compute_matches_transformers(fixture, tmp_path):
    """The fixtures' weights lie on the int4 grid (make_more_fixtures.py), so with float
    activations (accuracy_level 1) the int4 model must give transformers' logits: any
    misplaced row, scale or block shows here."""
    convert(DATA / fixture, tmp_path / "out", "precision=int4", "block_size=32", "accuracy_level=1")
    path, model = load(tmp_path / "out")
    assert len(nodes(model, "MatMulNBits")) >= 4 * LAYERS
    assert not nodes(model, "MatMul")
    errs = check_logits(fixture, path, 1e-4)
    print(fixture, {k: f"{v:.1e}" for k, v in errs.items()})


@pytest.mark.parametrize("fixture", FIXTURES)
def test_genai_greedy_matches_transformers(fixture, fp32_out):
    og = pytest.importorskip("onnxruntime_genai")
    _, meta = reference(fixture)
    folder = fp32_out(fixture)
    for name in ("genai_config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (folder / name).is_file(), name
    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(meta["prompt_ids"]) + len(meta["generated_ids"]), do_sample=False)
    gen = og.Generator(model, params)
    gen.append_tokens(np.array([meta["prompt_ids"]], dtype=np.int32))
    tokens = []
    while not gen.is_done():
        gen.generate_next_token()
        tokens.append(int(gen.get_next_tokens()[0]))
    # LongRoPE: a KV-cached runtime keeps the keys it rotated with the short factors, as
    # transformers' cached forward does (generated_ids); generate() recomputes instead.
    assert tokens == meta["generated_ids"], f"{fixture}: {tokens} != {meta['generated_ids']}"


def gemma_legacy_gelu(c):
    # Gemma 1 checkpoints say "gelu" and mean the tanh approximation (transformers reads it so)
    c["hidden_act"] = "gelu"
    c.pop("hidden_activation", None)


def gemma2_no_layer_types(c):
    # configs older than "layer_types": the even layers use the window
    c.pop("layer_types")


def longrope_as_rope_parameters(c):
    # transformers 5 writes the rotary settings as one "rope_parameters" block
    rs = c.pop("rope_scaling")
    c["rope_parameters"] = {"rope_type": "longrope", "rope_theta": c.pop("rope_theta"),
                            "short_factor": rs["short_factor"], "long_factor": rs["long_factor"],
                            "partial_rotary_factor": c["partial_rotary_factor"],
                            "original_max_position_embeddings": c.pop("original_max_position_embeddings")}


def gemma3_hub_spelling(c):
    # published Gemma 3 configs: rope_theta and rope_scaling for the global layers,
    # rope_local_base_freq for the sliding ones, and sliding_window_pattern instead of layer_types
    rp = c.pop("rope_parameters")
    c["rope_theta"] = rp["full_attention"]["rope_theta"]
    c["rope_scaling"] = {"rope_type": "linear", "factor": rp["full_attention"]["factor"]}
    c["rope_local_base_freq"] = rp["sliding_attention"]["rope_theta"]
    c.pop("layer_types")
    c.pop("_sliding_window_pattern", None)
    c["sliding_window_pattern"] = 2


def longrope_as_su(c):
    # the first Phi-3 128k checkpoints called LongRoPE "su"
    c["rope_scaling"]["type"] = "su"


@pytest.mark.parametrize("fixture,edit", [("gemma", gemma_legacy_gelu), ("gemma2", gemma2_no_layer_types),
                                          ("phi3_longrope", longrope_as_rope_parameters),
                                          ("phi3_longrope", longrope_as_su), ("gemma3", gemma3_hub_spelling)],
                         ids=["gemma-gelu", "gemma2-no-layer-types", "longrope-rope-parameters", "longrope-su",
                              "gemma3-hub"])
def test_other_config_spellings(fixture, edit, tmp_path):
    """Other ways published configs spell the same model give the same graph results."""
    src = broken_copy(tmp_path, fixture, edit)
    convert(src, tmp_path / "out", "precision=fp32")
    path, _ = load(tmp_path / "out")
    check_logits(fixture, path, 1e-4)


# ---- bad input ----

def broken_copy(tmp_path, fixture, edit):
    src = tmp_path / "src"
    shutil.copytree(DATA / fixture, src)
    with open(src / "config.json") as f:
        cfg = json.load(f)
    edit(cfg)
    with open(src / "config.json", "w") as f:
        json.dump(cfg, f)
    return src


def expect_failure(src, tmp_path, *words):
    out = tmp_path / "out"
    proc = convert(src, out, "precision=fp32", expect_ok=False)
    assert proc.returncode != 0
    assert not out.exists(), "a failed conversion left an output folder"
    for w in words:
        assert w in proc.stderr, f"'{w}' not in: {proc.stderr.strip()}"
    return proc


def test_phi3_packed_shape_disagrees_with_config(tmp_path):
    # one KV head instead of two: qkv_proj has more rows than config.json implies
    src = broken_copy(tmp_path, "phi3", lambda c: c.update(num_key_value_heads=1))
    expect_failure(src, tmp_path, "qkv_proj")


def test_phi3_gate_up_shape_disagrees_with_config(tmp_path):
    src = broken_copy(tmp_path, "phi3", lambda c: c.update(intermediate_size=c["intermediate_size"] + 32))
    expect_failure(src, tmp_path, "gate_up_proj")


def test_longrope_factor_count_wrong(tmp_path):
    def edit(c):
        c["rope_scaling"]["short_factor"] = c["rope_scaling"]["short_factor"][:-1]
    src = broken_copy(tmp_path, "phi3_longrope", edit)
    expect_failure(src, tmp_path, "short_factor")


def test_longrope_without_original_context(tmp_path):
    src = broken_copy(tmp_path, "phi3_longrope", lambda c: c.pop("original_max_position_embeddings"))
    expect_failure(src, tmp_path, "original_max_position_embeddings")


def test_gemma2_unknown_layer_type(tmp_path):
    src = broken_copy(tmp_path, "gemma2", lambda c: c.update(layer_types=["sliding_attention", "chunked_attention"]))
    expect_failure(src, tmp_path, "layer_types")


def test_gemma3_first_layer_only_has_no_unused_cache(tmp_path):
    """num_hidden_layers=1 keeps only the sliding layer: only its cache pair is written."""
    convert(DATA / "gemma3", tmp_path / "out", "precision=fp32", "num_hidden_layers=1")
    _, model = load(tmp_path / "out")
    caches = sorted(t.name for t in model.graph.initializer if "cache" in t.name)
    assert caches == ["cos_cache_local", "sin_cache_local"], caches


def test_gemma3_unsupported_local_rope(tmp_path):
    def edit(c):
        c["rope_parameters"]["sliding_attention"] = {"rope_type": "yarn", "rope_theta": 100.0, "factor": 2.0}
    src = broken_copy(tmp_path, "gemma3", edit)
    expect_failure(src, tmp_path, "sliding_attention", "yarn")


def test_gemma3_bidirectional_refused(tmp_path):
    src = broken_copy(tmp_path, "gemma3", lambda c: c.update(use_bidirectional_attention=True))
    expect_failure(src, tmp_path, "use_bidirectional_attention")


def test_gemma_unsupported_activation(tmp_path):
    src = broken_copy(tmp_path, "gemma", lambda c: c.update(hidden_act="relu", hidden_activation="relu"))
    expect_failure(src, tmp_path, "relu")
