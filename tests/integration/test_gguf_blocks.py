"""int4 / int8 conversion of quantized GGUF files: the GGUF blocks are carried into MatMulNBits,
not dequantized and rounded a second time.

A one-layer Llama-shaped model (hidden 256, so the 256-element K-quant super-blocks fit a row)
is written as a GGUF file with every Linear weight (q, k, v, o, gate, up, down, lm_head) in one
GGML type, laid out as llama.cpp writes it (q/k rows permuted per head). Types the gguf package
quantizes (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) are quantized from random weights with it; for the
others (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS: the package dequantizes but cannot
quantize them) the blocks are random bytes with their float16 scales set to sizes of real
weights (and, for the types with a minimum, dmin = d / 8, so that a block's zero lies inside its
range as in quantized real weights).

Each file is converted with `olive run-pass --pass convert --param precision=int4`, and the
MatMulNBits weights are dequantized in numpy from the ONNX initializers ((code - zero point) *
scale) and compared with the gguf package's dequantization of the GGUF tensors (in Hugging Face
row order):
- Q4_0, Q5_0, Q8_0, Q3_K, Q6_K, IQ4_NL, IQ4_XS: bit-equal (the float scales of the K types are
  the exact products d * sub_scale), with the bits and block size the mapping says.
- Q4_1, Q5_1, Q2_K, Q4_K, Q5_K (blocks with a float minimum): integer zero points are fitted; the
  change of each weight stays under half the block's code step (its GGUF scale) divided by the
  code multiplier the 8-bit storage allows, and is smaller than what dequantizing and
  requantizing (gguf_blocks=requantize, the same bits and block size) changes.
onnxruntime must run each model and give the logits of the model converted at fp32 from an F32
GGUF file of the dequantized values (accuracy_level 1, float compute, so the only difference is
the weights' kernel): within 2e-3 for exact types."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
gguf = pytest.importorskip("gguf")
from onnx import numpy_helper  # noqa: E402
from test_convert_gguf import add_llama_metadata, add_vocab, permute  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert"
Q = gguf.GGMLQuantizationType
CFG = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 1, "num_attention_heads": 4,
       "num_key_value_heads": 2, "head_dim": 64, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
       "rope_theta": 10000.0, "vocab_size": 256}
HEADS, KV = CFG["num_attention_heads"], CFG["num_key_value_heads"]
# type -> (bits, block_size, exact) of the MatMulNBits weights it becomes
MAPPING = {"Q4_0": (4, 32, True), "Q5_0": (8, 32, True), "Q8_0": (8, 32, True), "Q3_K": (4, 16, True),
           "Q6_K": (8, 16, True), "IQ4_NL": (8, 32, True), "IQ4_XS": (8, 32, True),
           "Q4_1": (4, 32, False), "Q5_1": (8, 32, False), "Q2_K": (4, 16, False), "Q4_K": (4, 32, False),
           "Q5_K": (8, 32, False)}
# fitted types: codes are multiplied by this much in their MatMulNBits storage
MULTIPLIER = {"Q4_1": 1, "Q4_K": 1, "Q5_1": 8, "Q5_K": 8, "Q2_K": 5}
# random-byte types: byte offsets of the float16 fields (d, dmin) in a block, and d's size
D_FIELDS = {"Q2_K": (80, 82, 1.5e-3), "Q3_K": (108, None, 1.5e-3), "Q4_K": (0, 2, 2e-4), "Q5_K": (0, 2, 1e-4),
            "Q6_K": (208, None, 3e-5), "IQ4_NL": (0, None, 5e-4), "IQ4_XS": (0, None, 2e-5)}
# GGUF name -> (HF name, rows)
LINEARS = {"blk.0.attn_q.weight": 256, "blk.0.attn_k.weight": 128, "blk.0.attn_v.weight": 128,
           "blk.0.attn_output.weight": 256, "blk.0.ffn_gate.weight": 512, "blk.0.ffn_up.weight": 512,
           "blk.0.ffn_down.weight": 256, "output.weight": 256}


def unpermute(w, n_head):
    """Hugging Face row order of rows llama.cpp permuted (the inverse of permute)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def quantized(rng, name, rows, cols, qtype):
    """(stored blocks as uint8 [rows, bytes], their dequantized values in GGUF row order)."""
    t = Q[qtype]
    if qtype in D_FIELDS:
        elems, size = gguf.GGML_QUANT_SIZES[t]
        data = rng.integers(0, 256, (rows, cols // elems, size), dtype=np.uint8)
        d_at, dmin_at, scale = D_FIELDS[qtype]
        d = (rng.uniform(0.5, 1.5, (rows, cols // elems)) * scale).astype(np.float16)
        data[:, :, d_at:d_at + 2] = d.view(np.uint8).reshape(rows, cols // elems, 2)
        if dmin_at is not None:
            dmin = (d.astype(np.float32) / 8).astype(np.float16)
            data[:, :, dmin_at:dmin_at + 2] = dmin.view(np.uint8).reshape(rows, cols // elems, 2)
        data = data.reshape(rows, -1)
    else:
        data = gguf.quants.quantize((rng.standard_normal((rows, cols)) * 0.05).astype(np.float32), t)
    return data, gguf.quants.dequantize(data, t).astype(np.float32)


def write(path, qtype, dequantized=False, seed=0, tied=False):
    """The model as a GGUF file with its Linear weights in `qtype` (or, dequantized, in F32
    holding the same values). tied: no output.weight, the token embeddings in `qtype` serve as
    lm_head. Returns GGUF name -> the float weights it holds (Hugging Face row order)."""
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "llama")
    hf = {}
    tensors = []
    if tied:
        data, values = quantized(rng, "token_embd.weight", 256, 256, qtype)
        tensors.append(("token_embd.weight", data, values))
    else:
        tensors.append(("token_embd.weight", (rng.standard_normal((256, 256)) * 0.5).astype(np.float32), None))
    for name, rows in LINEARS.items():
        if tied and name == "output.weight":
            continue
        cols = 512 if "ffn_down" in name else 256
        data, values = quantized(rng, name, rows, cols, qtype)
        tensors.append((name, data, values))
    for name in ("blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight"):
        tensors.append((name, (1 + 0.1 * rng.standard_normal(256)).astype(np.float32), None))
    for name, data, values in tensors:
        if values is None:
            w.add_tensor(name, data)
            continue
        if dequantized:
            w.add_tensor(name, values)
        else:
            w.add_tensor(name, data, raw_dtype=Q[qtype])
        heads = HEADS if "attn_q" in name else KV if "attn_k" in name else 0
        hf[name] = unpermute(values, heads) if heads else values
    w.add_type(gguf.GGUFType.MODEL)
    add_llama_metadata(w, CFG, Q.F32)
    add_vocab(w, DATA / "llama", CFG)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return hf


def convert(src, out, *params):
    args = [CLI, "run-pass", "--pass", "convert", "-m", src, "-o", out]
    for p in params:
        args += ["--param", p]
    proc = subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=600)
    assert "Sanitizer" not in proc.stderr and "runtime error" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, f"convert {src} failed: {proc.stderr.strip()}"
    return out


def matmulnbits_weights(folder):
    """Linear path -> (float32 W [N, K] as MatMulNBits dequantizes it, bits, block_size, has zero points)."""
    model = onnx.load(str(folder / "model.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type != "MatMulNBits":
            continue
        attrs = {a.name: a.i for a in node.attribute}
        bits, bs, n, k = attrs["bits"], attrs["block_size"], attrs["N"], attrs["K"]
        packed, scales = inits[node.input[1]], inits[node.input[2]].astype(np.float32)
        if bits == 4:
            codes = np.stack([packed & 0x0f, packed >> 4], -1).reshape(n, -1, bs)
        else:
            codes = packed.reshape(n, -1, bs)
        kb = codes.shape[1]
        if len(node.input) > 3 and node.input[3]:
            zp = inits[node.input[3]]
            zp = np.stack([zp & 0x0f, zp >> 4], -1).reshape(n, -1)[:, :kb] if bits == 4 else zp.reshape(n, kb)
        else:
            zp = np.full((n, kb), 1 << (bits - 1), np.uint8)
        w = (codes.astype(np.int32) - zp[:, :, None].astype(np.int32)).astype(np.float32) * scales[:, :, None]
        out[node.input[1].split(".MatMul.")[0]] = (w.reshape(n, -1)[:, :k], bits, bs, len(node.input) > 3)
    return out


def expected(hf):
    """Linear path (the converter's initializer prefix) -> the float weight [N, K] it stands for."""
    return {"model.layers.0.attn.qkv_proj": np.concatenate([hf["blk.0.attn_q.weight"], hf["blk.0.attn_k.weight"],
                                                            hf["blk.0.attn_v.weight"]]),
            "model.layers.0.attn.o_proj": hf["blk.0.attn_output.weight"],
            "model.layers.0.mlp.gate_proj": hf["blk.0.ffn_gate.weight"],
            "model.layers.0.mlp.up_proj": hf["blk.0.ffn_up.weight"],
            "model.layers.0.mlp.down_proj": hf["blk.0.ffn_down.weight"],
            "lm_head": hf["output.weight"] if "output.weight" in hf else hf["token_embd.weight"]}


def logits(folder, ids):
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    for i in range(CFG["num_hidden_layers"]):
        for kind in ("key", "value"):
            feeds[f"past_key_values.{i}.{kind}"] = np.zeros((1, KV, 0, CFG["head_dim"]), np.float32)
    names = [o.name for o in sess.get_outputs()]
    return sess.run(None, feeds)[names.index("logits")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("gguf_blocks")


def block_steps(w, bs):
    """Per block of `bs` values: the smallest gap between two of its distinct values, which is
    the block's GGUF scale (its code step) when two neighbouring codes occur; inf for a block
    of one value."""
    blocks = np.sort(w.reshape(w.shape[0], -1, bs), -1)
    gaps = np.diff(blocks, axis=-1)
    gaps[gaps <= np.abs(blocks[..., 1:]) * 1e-6] = np.inf
    return gaps.min(-1)


@pytest.mark.parametrize("qtype", list(MAPPING))
def test_gguf_blocks_carried_into_matmulnbits(workdir, qtype):
    bits, bs, exact = MAPPING[qtype]
    src = workdir / f"{qtype}.gguf"
    hf = write(src, qtype)
    folder = convert(src, workdir / qtype, "precision=int4", "accuracy_level=1")
    got = matmulnbits_weights(folder)
    want = expected(hf)
    assert set(got) == set(want), sorted(got)
    worst = 0.0
    for path, (w, b, block, has_zp) in got.items():
        assert (b, block) == (bits, bs), (path, b, block)
        assert has_zp == (not exact), path
        err = np.abs(w - want[path])
        if exact:
            assert np.array_equal(w, want[path]), f"{qtype} {path}: {err.max():.3g} off"
            continue
        # Least squares does at least as well as the nearest integer zero point with the
        # GGUF step over the multiplier, whose error is at most half that step: the root mean
        # square change of a block stays under it (blocks of one value are exact).
        rms = np.sqrt(np.mean(err.reshape(err.shape[0], -1, bs) ** 2, -1))
        bound = 0.5 * block_steps(want[path], bs) / MULTIPLIER[qtype]
        bound[np.isinf(bound)] = 0
        assert (rms <= bound * (1 + 1e-3) + 1e-7).all(), f"{qtype} {path}: {(rms - bound).max():.3g} over"
        worst = max(worst, float(err.max()))
    if not exact:
        print(f"{qtype}: fitted zero points change a weight by at most {worst:.3g}")


FITTED = ["Q4_1", "Q4_K", "Q5_1", "Q5_K", "Q2_K"]


@pytest.mark.parametrize("qtype", FITTED)
def test_fitted_blocks_against_requantizing(workdir, qtype):
    """In 4 bits (Q4_1, Q4_K, Q2_K), keeping the codes changes the weights less than
    dequantizing and requantizing them at the same bits and block size. The 5-bit types go to
    8 bits, where requantizing the values on a finer grid is about as close (measured: within a
    few percent either way): there keeping them must be no more than 5% worse."""
    bits, bs, _ = MAPPING[qtype]
    src = workdir / f"{qtype}_req.gguf"
    hf = write(src, qtype, seed=1)
    kept = matmulnbits_weights(convert(src, workdir / f"{qtype}_kept", "precision=int4"))
    req = matmulnbits_weights(convert(src, workdir / f"{qtype}_requantized", f"precision=int{bits}",
                                      f"block_size={bs}", "is_symmetric=false", "gguf_blocks=requantize"))
    want = expected(hf)
    for path in want:
        e_kept = float(np.sqrt(np.mean((kept[path][0] - want[path]) ** 2)))
        e_req = float(np.sqrt(np.mean((req[path][0] - want[path]) ** 2)))
        print(f"{qtype} {path}: rms change kept {e_kept:.3g}, requantized {e_req:.3g}")
        assert e_kept < (e_req if bits == 4 else 1.05 * e_req), (path, e_kept, e_req)


@pytest.mark.parametrize("qtype", ["Q4_1", "Q4_K", "Q2_K"])
def test_keep8_spreads_4_bit_codes_over_a_byte(workdir, qtype):
    """gguf_blocks=keep8: blocks with a minimum go to 8 bits with their codes multiplied by
    255 // (code span) (17 for 4-bit codes, 85 for Q2_K's 2-bit ones), so the fitted zero point's
    step is that much finer: the root mean square change of a block stays under half its GGUF
    step over that multiplier."""
    _, bs, _ = MAPPING[qtype]
    mult = 85 if qtype == "Q2_K" else 17
    src = workdir / f"{qtype}_keep8.gguf"
    hf = write(src, qtype, seed=9)
    got = matmulnbits_weights(convert(src, workdir / f"{qtype}_keep8", "precision=int4", "gguf_blocks=keep8"))
    want = expected(hf)
    for path, (w, bits, block, has_zp) in got.items():
        assert (bits, block, has_zp) == (8, bs, True), path
        err = np.abs(w - want[path])
        rms = np.sqrt(np.mean(err.reshape(err.shape[0], -1, bs) ** 2, -1))
        bound = 0.5 * block_steps(want[path], bs) / mult
        bound[np.isinf(bound)] = 0
        assert (rms <= bound * (1 + 1e-3) + 1e-7).all(), f"{qtype} {path}: {(rms - bound).max():.3g} over"


@pytest.mark.parametrize("qtype", FITTED)
def test_float_zero_points_are_exact_to_rounding(workdir, qtype):
    """gguf_blocks=exact: blocks with a minimum get float zero points, and the weights are the
    GGUF values up to the float rounding of (code - zero point) * scale. ONNX Runtime's CPU kernel
    does not run 8 bits with float zero points: the 5-bit types (8 bits) are checked as a GPU
    provider gets them, with float16 scales and zero points (each rounded once: at most 2^-11 of
    |code - zero point| * |scale| and of |zero point| * |scale|); on cpu they get fitted integer
    zero points (checked too)."""
    bits, bs, _ = MAPPING[qtype]
    src = workdir / f"{qtype}_exact.gguf"
    hf = write(src, qtype, seed=6)
    if bits == 8:
        cpu = matmulnbits_weights(convert(src, workdir / f"{qtype}_exact_cpu", "precision=int4", "gguf_blocks=exact"))
        assert all(zp for _, _, _, zp in cpu.values())
        onnx_model = workdir / f"{qtype}_exact_cpu" / "model.onnx"
        assert all(i.data_type == onnx.TensorProto.UINT8 for i in onnx.load(str(onnx_model)).graph.initializer
                   if i.name.endswith("zero_points"))
    ep = "cuda" if bits == 8 else "cpu"
    model = onnx.load(str(convert(src, workdir / f"{qtype}_exact", "precision=int4", "gguf_blocks=exact",
                                  f"execution_provider={ep}") / "model.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    want = expected(hf)
    for node in (n for n in model.graph.node if n.op_type == "MatMulNBits"):
        attrs = {a.name: a.i for a in node.attribute}
        assert (attrs["bits"], attrs["block_size"]) == (bits, bs)
        n, k = attrs["N"], attrs["K"]
        packed, scales, zp = (inits[node.input[i]] for i in (1, 2, 3))
        assert zp.dtype == (np.float32 if ep == "cpu" else np.float16) and zp.shape == scales.shape
        codes = (np.stack([packed & 0x0f, packed >> 4], -1) if bits == 4 else packed).reshape(n, -1, bs)
        zp, scales = zp.astype(np.float32)[:, :, None], scales.astype(np.float32)[:, :, None]
        w = ((codes.astype(np.float32) - zp) * scales).reshape(n, k)
        ref = want[node.input[1].split(".MatMul.")[0]]
        if ep == "cpu":
            assert np.abs(w - ref).max() <= 1e-6 * np.abs(ref).max(), node.name
        else:
            bound = 2.0 ** -11 * (np.abs(codes - zp) + np.abs(zp)) * np.abs(scales) + 1e-6 * np.abs(ref).max()
            assert (np.abs(w - ref) <= bound.reshape(n, k)).all(), node.name


@pytest.mark.parametrize("qtype", list(MAPPING))
def test_carried_model_runs_as_its_dequantized_weights(workdir, qtype):
    """onnxruntime runs the MatMulNBits model. Exact types: its logits are those of the fp32
    model of the dequantized values (float compute, accuracy_level 1). Fitted types: the root
    mean square change of the logits at most 1.25 times the requantized model's (the same bits
    and block size; 1.5 times in 8 bits, where both change the weights about as much, see
    test_fitted_blocks_against_requantizing), and in 4 bits gguf_blocks=exact's model (float
    zero points) within 1e-4 of the dequantized model's logits."""
    bits, bs, exact = MAPPING[qtype]
    src, plain_src = workdir / f"{qtype}_run.gguf", workdir / f"{qtype}_run_f32.gguf"
    write(src, qtype, seed=2)
    write(plain_src, qtype, dequantized=True, seed=2)
    folder = convert(src, workdir / f"{qtype}_run", "precision=int4", "accuracy_level=1")
    plain = convert(plain_src, workdir / f"{qtype}_run_f32", "precision=fp32")
    ids = np.random.default_rng(3).integers(0, CFG["vocab_size"], (1, 12)).astype(np.int64)
    got, want = logits(folder, ids), logits(plain, ids)
    err = float(np.abs(got - want).max())
    scale = float(np.abs(want).max())
    print(f"{qtype}: logits differ by {err:.3g} (largest logit {scale:.3g})")
    if exact:
        assert err <= 1e-4 * max(1.0, scale), err
        assert (got.argmax(-1) == want.argmax(-1)).all()
        return
    if bits == 4:
        floats = logits(convert(src, workdir / f"{qtype}_run_exact", "precision=int4", "accuracy_level=1",
                                "gguf_blocks=exact"), ids)
        assert float(np.abs(floats - want).max()) <= 1e-4 * max(1.0, scale)
    req = logits(convert(src, workdir / f"{qtype}_run_req", f"precision=int{bits}", f"block_size={bs}",
                         "is_symmetric=false", "accuracy_level=1", "gguf_blocks=requantize"), ids)
    rms, rms_req = (float(np.sqrt(np.mean((x - want) ** 2))) for x in (got, req))
    print(f"{qtype}: rms change of the logits kept {rms:.3g}, requantized {rms_req:.3g}")
    assert rms <= (1.25 if bits == 4 else 1.5) * rms_req, (rms, rms_req)


@pytest.mark.parametrize("qtype", ["Q4_0", "Q8_0", "Q6_K", "Q4_1", "Q5_K"])
def test_tied_embeddings_gather_the_carried_blocks(workdir, qtype):
    """Tied embeddings (no output.weight) with int4's symmetric default gather from the
    lm_head's codes (GatherBlockQuantized with the carried bits, block size and zero points):
    the embeddings and logits are the dequantized model's for exact types; for fitted ones the
    logits are as close as in the untied model's check (1.5 times the requantized model's rms
    change)."""
    bits, bs, exact = MAPPING[qtype]
    src, plain_src = workdir / f"{qtype}_tied.gguf", workdir / f"{qtype}_tied_f32.gguf"
    hf = write(src, qtype, seed=7, tied=True)
    write(plain_src, qtype, dequantized=True, seed=7, tied=True)
    folder = convert(src, workdir / f"{qtype}_tied", "precision=int4", "accuracy_level=1")
    ops = {n.op_type for n in onnx.load(str(folder / "model.onnx"), load_external_data=False).graph.node}
    assert "GatherBlockQuantized" in ops
    got = matmulnbits_weights(folder)["lm_head"][0]
    if exact:
        assert np.array_equal(got, hf["token_embd.weight"])
    ids = np.random.default_rng(3).integers(0, CFG["vocab_size"], (1, 12)).astype(np.int64)
    want = logits(convert(plain_src, workdir / f"{qtype}_tied_f32", "precision=fp32"), ids)
    out = logits(folder, ids)
    if exact:
        assert float(np.abs(out - want).max()) <= 1e-4 * max(1.0, float(np.abs(want).max()))
        return
    req = logits(convert(src, workdir / f"{qtype}_tied_req", f"precision=int{bits}", f"block_size={bs}",
                         "is_symmetric=false", "accuracy_level=1", "gguf_blocks=requantize"), ids)
    rms, rms_req = (float(np.sqrt(np.mean((x - want) ** 2))) for x in (out, req))
    print(f"{qtype} tied: rms change of the logits kept {rms:.3g}, requantized {rms_req:.3g}")
    assert rms <= 1.5 * rms_req, (rms, rms_req)


def test_requantize_option_rounds_again(workdir):
    """gguf_blocks=requantize gives the old path: the asked bits and block size, float values
    quantized again (so a Q4_0 weight is no longer bit-equal to its GGUF values at block 128)."""
    src = workdir / "Q4_0_opt.gguf"
    hf = write(src, "Q4_0", seed=4)
    got = matmulnbits_weights(convert(src, workdir / "Q4_0_opt", "precision=int4", "block_size=128",
                                      "gguf_blocks=requantize"))
    kept = matmulnbits_weights(convert(src, workdir / "Q4_0_opt_kept", "precision=int4", "block_size=128"))
    want = expected(hf)
    for path in want:
        assert got[path][1:3] == (4, 128)
        assert not np.array_equal(got[path][0], want[path])
        assert kept[path][1:3] == (4, 32)
        assert np.array_equal(kept[path][0], want[path])


def test_float16_scales_round_the_k_scales_once(workdir):
    """With float16 activations (a GPU provider) the scales are float16: d and Q4_0's scales
    are float16 already (still bit-equal), the products d * sub_scale of Q6_K round once to
    float16 (each weight moves by at most half a float16 ulp of its block's scale times its
    code, 2^-11 relative)."""
    for qtype in ("Q4_0", "Q6_K"):
        src = workdir / f"{qtype}_fp16.gguf"
        hf = write(src, qtype, seed=5)
        got = matmulnbits_weights(convert(src, workdir / f"{qtype}_fp16", "precision=int4",
                                          "execution_provider=cuda"))
        want = expected(hf)
        for path in want:
            w = got[path][0]
            if qtype == "Q4_0":
                assert np.array_equal(w, want[path]), path
            else:
                assert np.allclose(w, want[path], rtol=2.0 ** -11, atol=0), path


@pytest.mark.parametrize("qtype", ["Q4_0", "Q4_1"])
def test_non_finite_block_scale_is_a_clear_error(tmp_path, qtype):
    """A block whose float16 scale is infinite: the conversion fails naming the tensor and the
    block, and writes no output folder."""
    src = tmp_path / f"{qtype}_inf.gguf"
    write(src, qtype, seed=8)
    data = bytearray(src.read_bytes())
    reader = gguf.GGUFReader(str(src))
    t = next(t for t in reader.tensors if t.name == "blk.0.ffn_up.weight")
    at = int(t.data_offset) + 3 * gguf.GGML_QUANT_SIZES[Q[qtype]][1]  # block 3 of row 0
    data[at:at + 2] = np.array([0x7C00], np.uint16).tobytes()  # float16 +inf as d
    src.write_bytes(bytes(data))
    out = tmp_path / "out"
    proc = subprocess.run([CLI, "run-pass", "--pass", "convert", "-m", str(src), "-o", str(out), "--param",
                           "precision=int4"], capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "ffn_up" in proc.stderr or "up_proj" in proc.stderr, proc.stderr
    assert "[0, 96]" in proc.stderr, proc.stderr
    assert not out.exists()
