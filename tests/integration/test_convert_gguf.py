"""The convert pass on GGUF files made from the tiny Hugging Face fixtures, against transformers.

Each fixture in tests/data/convert/ is written at test time as a GGUF file the way llama.cpp's
convert_hf_to_gguf.py lays out that architecture, with the `gguf` package (llama.cpp's own
writer and tensor-name map):

- Llama and Mistral go in as architecture "llama" with q/k rows permuted per head, Llama 3
  rope scaling as a rope_freqs tensor and linear scaling as rope.scaling.* keys; Qwen2 and
  Qwen3 keep their rows; Phi-3 keeps its packed qkv_proj / gate_up_proj (attn_qkv, ffn_up),
  and LongRoPE's factors as rope_factors_long/short tensors; Gemma and Gemma 2 store every
  norm weight as 1 + w and drop lm_head (tied).
- Metadata: general.architecture and the {arch}.* keys each llama.cpp model class writes
  (context_length, embedding_length, block_count, feed_forward_length, attention.head_count,
  head_count_kv, layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count, key_length,
  sliding_window, soft-capping), and tokenizer.ggml.* from the fixture's tokenizer: its byte-level
  vocabulary as a "gpt2" model with token types, and the special ids and flags through the
  package's SpecialVocab, as llama.cpp's BPE path does. (llama.cpp would pick
  tokenizer.ggml.pre by hashing a probe text's ids, which only works for published
  tokenizers; the fixtures split as GPT-2 does, so "gpt-2". Its Phi-3 and Gemma classes read a
  SentencePiece tokenizer.model, which the fixtures do not have: they go in as gpt2 too.)
- Tensors: 1-D tensors and norms in F32, matrices in the file type: F32 for every fixture,
  F16 for Llama and Q8_0 for Phi-3 (falling back to F16 where a row is not whole Q8_0 blocks,
  as llama.cpp does).

Each file is converted with `olive run-pass --pass convert --param precision=fp32`:
onnxruntime must give transformers' logits and KV cache (prefill, one decode step with its past,
and the 25-token pass where the fixture has one) within 1e-4 for F32 files. F16 and Q8_0 weights
are not the checkpoint's weights: there the logits stay within 2e-2 (F16) and 0.5 (Q8_0) of
transformers' and the top token agrees at >= 85% of positions (the fixtures are random: a few
positions are near-ties); and the model must be exactly the one converted from an F32 file of
the values the gguf package dequantizes from that file. onnxruntime-genai must load each F32
folder, encode text as the fixture's own tokenizer does, and greedily generate transformers'
tokens. NaN or infinite rope values give a clear error and no output folder.

Gemma 2: GGUF has no key for query_pre_attn_scalar; llama.cpp scales attention by head_dim
(hidden / heads for the 27B model). The fixture's scalar (24) is not its head_dim (16), so
transformers' recorded outputs are not those of the GGUF file's model. Its reference is a numpy
implementation of Gemma 2 (olive_testlib.gemma2_forward) run with query_pre_attn_scalar =
head_dim; that implementation is first checked against transformers' recorded logits, KV cache
and greedy tokens with the fixture's own scalar (test_numpy_gemma2_is_transformers). Recording
transformers itself with the edited config needs torch (scripts/fixture-env.sh), which the test
environment does not have."""

import json
import math
import os
import pathlib
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
gguf = pytest.importorskip("gguf")
from olive_testlib import (check_with_contrib_layernorm, gemma2_forward, gemma2_greedy, genai_greedy,  # noqa: E402
                           llama3_rope_factors, read_safetensors)

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert"
# fixture -> general.architecture llama.cpp writes for it (Mistral is converted as Llama)
GGUF_ARCH = {"llama": "llama", "llama_tied": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
             "phi3": "phi3", "phi3_longrope": "phi3", "gemma": "gemma", "gemma2": "gemma2"}
FIXTURES = [f for f in GGUF_ARCH if (DATA / f / "model.safetensors").is_file()]
F32, F16, Q8_0 = gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.Q8_0
FILE_TYPE = {F32: gguf.LlamaFileType.ALL_F32, F16: gguf.LlamaFileType.MOSTLY_F16, Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0}


def config(fixture):
    return json.loads((DATA / fixture / "config.json").read_text())


# ---- writing a fixture as llama.cpp's converter would ------------------------------------------

def rope(cfg):
    """(rope_theta, rope scaling dict or None), from either spelling transformers writes."""
    params = cfg.get("rope_parameters") or {}
    theta = cfg.get("rope_theta", params.get("rope_theta"))
    scaling = cfg.get("rope_scaling") or {k: v for k, v in params.items() if k != "rope_theta"} or None
    if scaling and (scaling.get("rope_type") or scaling.get("type")) == "default":
        scaling = None
    return theta, scaling


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def add_common_metadata(w, cfg, ftype):
    """What llama.cpp's base model class writes (Llama, Qwen2 and Qwen3 start from it)."""
    theta, _ = rope(cfg)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    if "num_key_value_heads" in cfg:
        w.add_head_count_kv(cfg["num_key_value_heads"])
    if theta is not None:
        w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    if "head_dim" in cfg:
        w.add_key_length(cfg["head_dim"])
        w.add_value_length(cfg["head_dim"])
    w.add_file_type(FILE_TYPE[ftype])


def add_llama_metadata(w, cfg, ftype):
    add_common_metadata(w, cfg, ftype)
    w.add_vocab_size(cfg["vocab_size"])
    w.add_rope_dimension_count(head_dim(cfg))
    _, scaling = rope(cfg)
    if scaling and (scaling.get("rope_type") or scaling.get("type")) == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(scaling["factor"])


def add_phi3_metadata(w, cfg, ftype):
    theta, _ = rope(cfg)
    partial = cfg.get("partial_rotary_factor", (cfg.get("rope_parameters") or {}).get("partial_rotary_factor", 1.0))
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_rope_scaling_orig_ctx_len(cfg["original_max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_dimension_count(int(partial * cfg["hidden_size"]) // cfg["num_attention_heads"])
    w.add_rope_freq_base(theta)
    w.add_file_type(FILE_TYPE[ftype])
    if cfg.get("sliding_window") is not None:
        w.add_sliding_window(cfg["sliding_window"])
    _, scaling = rope(cfg)
    if scaling and (scaling.get("rope_type") or scaling.get("type")) in ("longrope", "su"):
        scale = cfg["max_position_embeddings"] / cfg["original_max_position_embeddings"]
        orig = cfg["original_max_position_embeddings"]
        w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0)


def add_gemma_metadata(w, cfg, ftype):
    """Gemma's class writes no rope.freq_base (llama.cpp's default, 10000, is Gemma's)."""
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg.get("num_key_value_heads", cfg["num_attention_heads"]))
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_key_length(cfg["head_dim"])
    w.add_value_length(cfg["head_dim"])
    w.add_file_type(FILE_TYPE[ftype])
    if cfg["model_type"] == "gemma2":
        w.add_attn_logit_softcapping(cfg["attn_logit_softcapping"])
        w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
        w.add_sliding_window(cfg["sliding_window"])


METADATA = {"llama": add_llama_metadata, "qwen2": add_common_metadata, "qwen3": add_common_metadata,
            "phi3": add_phi3_metadata, "gemma": add_gemma_metadata, "gemma2": add_gemma_metadata}


def add_vocab(w, folder, cfg):
    """llama.cpp's BPE path: tokens by id in the byte-level alphabet (ids the tokenizer lacks
    become [PADn], unused), special added tokens as control tokens, then merges, special ids
    and add_bos/eos flags from the folder's files by SpecialVocab."""
    tok = json.loads((folder / "tokenizer.json").read_text())
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    added = {a["id"]: a for a in tok.get("added_tokens", [])}
    T = gguf.TokenType
    tokens, types = [], []
    for i in range(cfg["vocab_size"]):
        if i in added:
            tokens.append(added[i]["content"])
            types.append(T.CONTROL if added[i]["special"] else T.USER_DEFINED)
        elif i in by_id:
            tokens.append(by_id[i])
            types.append(T.NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(T.UNUSED)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    gguf.SpecialVocab(folder, load_merges=True, n_vocab=len(tokens)).add_to_gguf(w, quiet=True)


def permute(w, n_head):
    """llama.cpp's q/k row order: each head's rotary halves interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_freqs(cfg, scaling):
    """The per-frequency factors llama.cpp stores as rope_freqs.weight for Llama 3 scaling."""
    theta, _ = rope(cfg)
    dim = head_dim(cfg)
    freqs = 1.0 / (np.float32(theta) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    return llama3_rope_factors(freqs, scaling.get("factor", 8.0), scaling.get("low_freq_factor", 1.0),
                               scaling.get("high_freq_factor", 4.0),
                               scaling.get("original_max_position_embeddings", 8192))


def gguf_tensors(fixture, cfg):
    """(GGUF name, float32 array) in llama.cpp's order: generated tensors, then the checkpoint's."""
    arch = GGUF_ARCH[fixture]
    _, scaling = rope(cfg)
    kind = scaling and (scaling.get("rope_type") or scaling.get("type"))
    if arch == "llama" and kind == "llama3":
        yield "rope_freqs.weight", llama3_rope_freqs(cfg, scaling)
    if arch == "phi3" and kind in ("longrope", "su"):
        yield "rope_factors_long.weight", np.array(scaling["long_factor"], np.float32)
        yield "rope_factors_short.weight", np.array(scaling["short_factor"], np.float32)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], cfg["num_hidden_layers"])
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    for name, t in read_safetensors(DATA / fixture / "model.safetensors").items():
        if arch.startswith("gemma"):
            if name == "lm_head.weight":
                continue
            if name.endswith("norm.weight"):
                t = t + np.float32(1)
        if arch == "llama" and name.endswith(("q_proj.weight", "q_proj.bias")):
            t = permute(t, heads)
        if arch == "llama" and name.endswith(("k_proj.weight", "k_proj.bias")):
            t = permute(t, kv)
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new is not None, f"llama.cpp has no name for {name}"
        yield new, t


def write_gguf(fixture, path, ftype=F32, dequantized=False, edit=None):
    """Writes the file; returns GGUF name -> the type each tensor is stored in. dequantized:
    store the values the `ftype` file holds, dequantized by the gguf package, in F32 instead.
    edit: changes the fixture's config before it is written."""
    cfg = config(fixture)
    if edit:
        edit(cfg)
    arch = GGUF_ARCH[fixture]
    w = gguf.GGUFWriter(str(path), arch)
    stored = {}
    for name, t in gguf_tensors(fixture, cfg):
        qtype = F32 if t.ndim <= 1 or name.endswith("_norm.weight") else ftype
        try:
            data = gguf.quants.quantize(t, qtype)
        except gguf.QuantError:
            qtype = F16
            data = gguf.quants.quantize(t, qtype)
        if dequantized and qtype != F32:
            data, qtype = gguf.quants.dequantize(data, qtype).astype(np.float32), F32
        w.add_tensor(name, data, raw_dtype=qtype)
        stored[name] = qtype
    w.add_type(gguf.GGUFType.MODEL)
    METADATA[arch](w, cfg, ftype)
    add_vocab(w, DATA / fixture, cfg)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return stored


# ---- converting and running ---------------------------------------------------------------------

def run_cli(*args):
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    # under the sanitizer build a leak or undefined behaviour shows here
    assert "Sanitizer" not in proc.stderr and "runtime error" not in proc.stderr, proc.stderr
    return proc


def convert(src, out):
    proc = run_cli("run-pass", "--pass", "convert", "--param", "precision=fp32", "-m", src, "-o", out)
    assert proc.returncode == 0, f"convert {src} failed: {proc.stderr.strip()}"
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("convert_gguf")


_done = {}


def converted(workdir, fixture, ftype=F32):
    """The folder converted from `fixture` written as a GGUF of `ftype` (once per module)."""
    key = (fixture, ftype.name)
    if key not in _done:
        path = workdir / f"{fixture}_{ftype.name}.gguf"
        stored = write_gguf(fixture, path, ftype)
        _done[key] = (convert(path, workdir / f"{fixture}_{ftype.name}"), stored)
    return _done[key][0]


class Decoder:
    """The converted graph run as onnxruntime-genai runs it: BNSH past in, present out."""

    def __init__(self, folder, cfg):
        self.sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.sess.get_outputs()]
        self.layers, self.kv, self.head = cfg["num_hidden_layers"], cfg["num_key_value_heads"], head_dim(cfg)

    def run(self, ids, past=None):
        past_len = 0 if past is None else past["present.0.key"].shape[2]
        feeds = {"input_ids": ids.astype(np.int64), "attention_mask": np.ones((1, past_len + ids.shape[1]), np.int64)}
        for i in range(self.layers):
            for kind in ("key", "value"):
                feeds[f"past_key_values.{i}.{kind}"] = (past[f"present.{i}.{kind}"] if past is not None
                                                        else np.zeros((1, self.kv, 0, self.head), np.float32))
        return dict(zip(self.outputs, self.sess.run(None, feeds)))


def reference(fixture):
    return dict(np.load(DATA / fixture / "reference.npz"))


def outputs(folder, fixture, cfg=None):
    """What the checks compare, by name: prefill and decode logits, the KV cache at the length
    the fixture recorded it (after the prefill, or after the decode step), and the 25-token pass
    where the fixture has one."""
    ref = reference(fixture)
    dec = Decoder(folder, cfg or config(fixture))
    first = dec.run(ref["prefill_ids"])
    second = dec.run(ref["decode_ids"], first)
    got = {"prefill": first["logits"], "decode": second["logits"]}
    # The fixture recorded its cache after the prefill, or (a cache longer than the prompt) after
    # the decode step; transformers keeps only the window of a sliding-window layer: its last
    # positions.
    after_decode = any(ref[f"present_{i}_key"].shape[2] > ref["prefill_ids"].shape[1] for i in range(dec.layers))
    have = second if after_decode else first
    for i in range(dec.layers):
        for kind in ("key", "value"):
            want = ref[f"present_{i}_{kind}"]
            got[f"present.{i}.{kind}"] = have[f"present.{i}.{kind}"][:, :, -want.shape[2]:]
    if "sequence_ids" in ref:
        got["sequence"] = dec.run(ref["sequence_ids"])["logits"]
    return got


def transformers_outputs(fixture):
    ref = reference(fixture)
    want = {"prefill": ref["prefill_logits"], "decode": ref["decode_logits"]}
    for i in range(config(fixture)["num_hidden_layers"]):
        for kind in ("key", "value"):
            want[f"present.{i}.{kind}"] = ref[f"present_{i}_{kind}"]
    if "sequence_logits" in ref:
        want["sequence"] = ref["sequence_logits"]
    return want


def max_errors(got, want):
    assert set(got) == set(want)
    return {k: float(np.abs(got[k].astype(np.float32) - want[k]).max()) for k in want}


def gemma2_llama_cpp_config():
    """The gemma2 fixture's config as llama.cpp runs its GGUF file: query_pre_attn_scalar = head_dim."""
    cfg = config("gemma2")
    return dict(cfg, query_pre_attn_scalar=head_dim(cfg))


def numpy_gemma2_outputs(cfg):
    """What `outputs` compares, from the numpy Gemma 2 with `cfg`: prefill and decode logits,
    the KV cache at the lengths transformers recorded, the 25-token pass."""
    ref, weights = reference("gemma2"), read_safetensors(DATA / "gemma2" / "model.safetensors")
    want = {"prefill": gemma2_forward(weights, cfg, ref["prefill_ids"])[0]}
    logits, caches = gemma2_forward(weights, cfg, np.concatenate([ref["prefill_ids"], ref["decode_ids"]], 1))
    want["decode"] = logits[:, -1:]
    for i, (key, value) in enumerate(caches):
        for kind, kv in (("key", key), ("value", value)):
            want[f"present.{i}.{kind}"] = kv[:, :, -ref[f"present_{i}_{kind}"].shape[2]:]
    want["sequence"] = gemma2_forward(weights, cfg, ref["sequence_ids"])[0]
    return {k: v.astype(np.float32) for k, v in want.items()}


def expected_outputs(workdir, fixture):
    if fixture == "gemma2" and config(fixture)["query_pre_attn_scalar"] != head_dim(config(fixture)):
        return numpy_gemma2_outputs(gemma2_llama_cpp_config())
    return transformers_outputs(fixture)


# ---- tests ----------------------------------------------------------------------------------------

def test_numpy_gemma2_is_transformers():
    """The numpy Gemma 2 that stands for transformers with llama.cpp's attention scale gives
    transformers' recorded logits, KV cache and greedy tokens for the fixture's own config; and
    the scale matters (the reference is not the recording)."""
    if "gemma2" not in FIXTURES:
        pytest.skip("tests/data/convert/gemma2 is missing")
    errs = max_errors(numpy_gemma2_outputs(config("gemma2")), transformers_outputs("gemma2"))
    assert max(errs.values()) <= 2e-5, errs
    prompt, want = transformers_greedy("gemma2")
    weights = read_safetensors(DATA / "gemma2" / "model.safetensors")
    assert gemma2_greedy(weights, config("gemma2"), prompt, len(want) - len(prompt)) == want
    moved = max_errors(numpy_gemma2_outputs(gemma2_llama_cpp_config()), transformers_outputs("gemma2"))
    assert moved["prefill"] > 1e-3, moved


@pytest.mark.parametrize("fixture", FIXTURES)
def test_f32_gguf_matches_transformers(workdir, fixture):
    folder = converted(workdir, fixture)
    model = check_with_contrib_layernorm(folder / "model.onnx")
    ops = {n.op_type for n in model.graph.node}
    assert "GroupQueryAttention" in ops
    genai = json.loads((folder / "genai_config.json").read_text())["model"]
    assert genai["type"] == {"mistral": "llama", "llama_tied": "llama", "phi3_longrope": "phi3"}.get(fixture, fixture)
    assert genai["vocab_size"] == config(fixture)["vocab_size"]
    errs = max_errors(outputs(folder, fixture), expected_outputs(workdir, fixture))
    print(fixture, {k: f"{v:.1e}" for k, v in errs.items()})
    bad = {k: v for k, v in errs.items() if not v <= 1e-4}
    assert not bad, f"{fixture}: differs from the reference by more than 1e-4: {bad}"


def test_f32_gguf_stores_what_llama_cpp_stores(workdir, tmp_path):
    """The files the tests write hold llama.cpp's layout (so the checks above test the reader on
    it): permuted q rows for Llama, 1 + w norms and no output.weight for Gemma, packed qkv
    for Phi-3, and the metadata keys under the architecture's name."""
    write_gguf("gemma", tmp_path / "g.gguf")
    reader = gguf.GGUFReader(str(tmp_path / "g.gguf"))
    names = {t.name: t for t in reader.tensors}
    assert "output.weight" not in names and reader.fields["general.architecture"].contents() == "gemma"
    hf = read_safetensors(DATA / "gemma" / "model.safetensors")
    norm = names["blk.0.attn_norm.weight"]
    np.testing.assert_array_equal(np.asarray(norm.data), hf["model.layers.0.input_layernorm.weight"] + np.float32(1))
    assert reader.fields["gemma.attention.key_length"].contents() == 16

    write_gguf("llama", tmp_path / "l.gguf")
    reader = gguf.GGUFReader(str(tmp_path / "l.gguf"))
    q = {t.name: t for t in reader.tensors}["blk.0.attn_q.weight"]
    want = read_safetensors(DATA / "llama" / "model.safetensors")["model.layers.0.self_attn.q_proj.weight"]
    got = np.asarray(q.data).reshape(want.shape)
    assert not np.array_equal(got, want) and np.array_equal(np.sort(got, axis=0), np.sort(want, axis=0))
    assert "rope_freqs.weight" in {t.name for t in reader.tensors}

    write_gguf("phi3", tmp_path / "p.gguf", Q8_0)
    reader = gguf.GGUFReader(str(tmp_path / "p.gguf"))
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert types["blk.0.attn_qkv.weight"] == Q8_0 and types["blk.0.ffn_up.weight"] == Q8_0
    assert types["blk.0.attn_norm.weight"] == F32
    assert reader.fields["phi3.attention.sliding_window"].contents() == config("phi3")["sliding_window"]


@pytest.mark.parametrize("fixture,ftype,tol", [("llama", F16, 2e-2), ("phi3", Q8_0, 0.5)],
                         ids=["llama-f16", "phi3-q8_0"])
def test_quantized_gguf_stays_close_to_transformers(workdir, fixture, ftype, tol):
    """F16 (about three digits) and Q8_0 (8 bits per weight, one scale per 32) are not the
    checkpoint's weights: the logits move (measured: 5e-3 for F16; 0.3 for Q8_0 on logits up
    to 7.4, the fixture's weights being random multiples of a 4-bit step that Q8_0's scales do
    not share), within `tol`, and the top token stays transformers' at >= 85% of positions
    (llama: 8 positions, one a near-tie of 3e-3; phi3: 32, one of 1.2e-2)."""
    folder = converted(workdir, fixture, ftype)
    check_with_contrib_layernorm(folder / "model.onnx")
    stored = _done[(fixture, ftype.name)][1]
    assert stored["token_embd.weight"] == stored["blk.1.ffn_down.weight"] == ftype
    got, want = outputs(folder, fixture), transformers_outputs(fixture)
    errs = max_errors(got, want)
    print(fixture, ftype.name, {k: f"{v:.1e}" for k, v in errs.items()})
    assert max(errs.values()) <= tol, errs
    assert max(errs.values()) > 1e-4, "the rounded weights made no difference: were they read as F32?"
    top = [(got[k].argmax(-1) == want[k].argmax(-1)).ravel() for k in ("prefill", "decode", "sequence") if k in want]
    agree = float(np.concatenate(top).mean())
    print(f"{fixture} {ftype.name}: top-1 agreement with transformers {agree:.3f}")
    assert agree >= 0.85


@pytest.mark.parametrize("fixture,ftype", [("llama", F16), ("phi3", Q8_0)], ids=["llama-f16", "phi3-q8_0"])
def test_quantized_gguf_is_its_dequantized_values(workdir, fixture, ftype):
    """The same model as an F32 file holding what the gguf package dequantizes from it: no
    block, scale or row of the F16 / Q8_0 data is misread."""
    folder = converted(workdir, fixture, ftype)
    path = workdir / f"{fixture}_{ftype.name}_dequantized.gguf"
    write_gguf(fixture, path, ftype, dequantized=True)
    plain = convert(path, workdir / f"{fixture}_{ftype.name}_dequantized")
    errs = max_errors(outputs(folder, fixture), outputs(plain, fixture))
    assert max(errs.values()) <= 1e-5, errs


def transformers_greedy(fixture):
    ref = reference(fixture)
    if "greedy" in ref:
        return ref["prefill_ids"][0].tolist(), ref["greedy"][0].tolist()
    meta = json.loads((DATA / fixture / "reference.json").read_text())
    return meta["prompt_ids"], meta["prompt_ids"] + meta["generated_ids"]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_genai_loads_and_generates(workdir, fixture):
    folder = converted(workdir, fixture)
    prompt, want = transformers_greedy(fixture)
    if fixture == "gemma2" and config(fixture)["query_pre_attn_scalar"] != head_dim(config(fixture)):
        weights = read_safetensors(DATA / "gemma2" / "model.safetensors")
        want = gemma2_greedy(weights, gemma2_llama_cpp_config(), prompt, len(want) - len(prompt))
    assert genai_greedy(folder, prompt, len(want) - len(prompt)) == want


@pytest.mark.parametrize("fixture", FIXTURES)
def test_genai_tokenizer_from_gguf_metadata(workdir, fixture):
    """The tokenizer rebuilt from tokenizer.ggml.* encodes as the fixture's tokenizer.json."""
    og = pytest.importorskip("onnxruntime_genai")
    tokenizers = pytest.importorskip("tokenizers")
    folder = converted(workdir, fixture)
    tok = og.Tokenizer(og.Model(str(folder)))
    theirs = tokenizers.Tokenizer.from_file(str(DATA / fixture / "tokenizer.json"))
    for text in ("counting: abc 123", "Hello,  world!\n\tnext line", "naïve café"):
        want = theirs.encode(text, add_special_tokens=False).ids
        got = [int(i) for i in tok.encode(text)]
        assert got[len(got) - len(want):] == want, text
        assert tok.decode(np.asarray(want, np.int32)) == text


def nan_theta(cfg):
    cfg["rope_parameters"]["rope_theta"] = float("nan")


def infinite_long_factor(cfg):
    cfg["rope_scaling"]["long_factor"][3] = float("inf")


@pytest.mark.parametrize("fixture,edit,words", [
    ("qwen2", nan_theta, ["qwen2.rope.freq_base", "not a finite number"]),
    ("phi3_longrope", infinite_long_factor, ["rope_factors_long.weight", "[3]", "not a finite number"])],
    ids=["nan-freq-base", "infinite-longrope-factor"])
def test_non_finite_rope_values_are_a_clear_error(tmp_path, fixture, edit, words):
    """config.json cannot carry NaN or infinity: the file is refused with the key or tensor at
    fault named, and no output folder is left."""
    path = tmp_path / "bad.gguf"
    write_gguf(fixture, path, edit=edit)
    out = tmp_path / "out"
    proc = run_cli("run-pass", "--pass", "convert", "--param", "precision=fp32", "-m", path, "-o", out)
    assert proc.returncode != 0 and not out.exists()
    for w in words + ["bad.gguf"]:
        assert w in proc.stderr, (w, proc.stderr)
