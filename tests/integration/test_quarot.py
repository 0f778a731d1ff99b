"""QuaRot (Olive's Quarot pass; convert's rotate_mode / rotate_seed): the decoder's residual
stream turned by an orthogonal matrix while the converter streams the weights.

Rotation leaves the function unchanged: the rotated fp32 conversion of each tiny checkpoint
(Llama, a tied Llama, Qwen2 with q/k/v biases, Qwen3 with q/k norms, Mistral) reproduces
transformers' recorded logits and keys within 1e-4, for both modes and two seeds, while its
weights are really turned (the norms folded to ones, the embedding rows keep their lengths but
not their values, the seeds give different weights). On a checkpoint with outlier input
channels, int4 with the rotation is closer to fp32 than int4 without. A workflow folds Quarot
before SelectiveMixedPrecision → Rtn → ModelBuilder into the conversion. Hadamard sizes that are
a power of two times a Paley order (12, 28) keep the function too. Bad input (an architecture the
rotation has no rules for, a Hadamard size with no matrix here, a Quarot with no conversion after
it) is refused by name with nothing written.

libolive draws its random signs and matrices from its own seeded generator, not torch's, so the
rotated weights are not Olive's bytes: the tests check the properties, not the bytes."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

from olive_testlib import read_safetensors, write_safetensors  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")
DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert"
ARCHS = ["llama", "llama_tied", "qwen2", "qwen3", "mistral"]


def run_cli(*args):
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    for alarm in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert alarm not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def convert(src, out, *params, ok=True):
    args = ["run-pass", "--pass", "convert", "-m", src, "-o", out]
    for p in params:
        args += ["--param", p]
    proc = run_cli(*args)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def config(folder):
    return json.loads((pathlib.Path(folder) / "config.json").read_text())


def run_logits(folder, cfg, ids):
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    kv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    f = {"input_ids": ids.astype(np.int64), "attention_mask": np.ones(ids.shape, np.int64)}
    for i in range(cfg["num_hidden_layers"]):
        for kind in ("key", "value"):
            f[f"past_key_values.{i}.{kind}"] = np.zeros((ids.shape[0], kv, 0, hd), np.float32)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, f)))


def initializers(folder):
    m = onnx.load(str(folder / "model.onnx"))
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


@pytest.mark.parametrize("mode", ["hadamard", "random"])
@pytest.mark.parametrize("arch", ARCHS)
def test_rotated_fp32_matches_transformers(tmp_path, arch, mode):
    ref = dict(np.load(DATA / arch / "reference.npz"))
    cfg = config(DATA / arch)
    weights = []
    for seed in (0, 7):
        out = tmp_path / f"{arch}_{mode}_{seed}"
        convert(DATA / arch, out, "precision=fp32", f"rotate_mode={mode}", f"rotate_seed={seed}")
        got = run_logits(out, cfg, ref["prefill_ids"])
        np.testing.assert_allclose(got["logits"], ref["prefill_logits"], atol=1e-4, rtol=0)
        # q and k only turn on their input side: the keys are transformers' own (the prefill's
        # positions of the recorded cache, which also holds the decode step)
        p = ref["prefill_ids"].shape[1]
        for i in range(cfg["num_hidden_layers"]):
            np.testing.assert_allclose(got[f"present.{i}.key"], ref[f"present_{i}_key"][:, :, :p], atol=1e-4, rtol=0)
        weights.append(initializers(out))
    # the two seeds turn the weights differently
    a, b = weights
    assert not np.allclose(a["model.embed_tokens.weight"], b["model.embed_tokens.weight"], atol=1e-3)


@pytest.mark.parametrize("mode", ["hadamard", "random"])
def test_weights_are_rotated(tmp_path, mode):
    """Against the unrotated conversion: norms folded to ones, the embedding turned (each row
    keeps its length, as an orthogonal map keeps it), the Linears changed, the tied head untied."""
    arch = "llama_tied"
    plain, rot = tmp_path / "plain", tmp_path / "rot"
    convert(DATA / arch, plain, "precision=fp32")
    convert(DATA / arch, rot, "precision=fp32", f"rotate_mode={mode}", "rotate_seed=1")
    p, r = initializers(plain), initializers(rot)
    ck = read_safetensors(DATA / arch / "model.safetensors")
    norms = [n for n in r if n.endswith("layernorm.weight")]
    assert len(norms) == 2 * config(DATA / arch)["num_hidden_layers"] + 1, norms
    for n in norms:
        assert np.all(r[n] == 1.0), n
        assert not np.all(p[n] == 1.0), n  # the fixture's norms are not ones: folding changed them
    emb_p, emb_r = p.get("model.embed_tokens.weight"), r["model.embed_tokens.weight"]
    emb = ck["model.embed_tokens.weight"]
    assert emb_p is None  # the unrotated tied model gathers from the head's weight
    assert np.abs(emb_r - emb).max() > 1e-2
    np.testing.assert_allclose(np.linalg.norm(emb_r, axis=1), np.linalg.norm(emb, axis=1), rtol=1e-5)
    # the head is its own weight now: the final norm folded in, then turned
    assert "lm_head.MatMul.weight" in r and not np.allclose(r["lm_head.MatMul.weight"], emb_r.T, atol=1e-3)
    for name in p:
        if name.endswith("MatMul.weight") and name != "lm_head.MatMul.weight":
            assert p[name].shape == r[name].shape
            assert np.abs(p[name] - r[name]).max() > 1e-3, f"{name} is unchanged"
    # down_proj turns on its output side only: W^T R1 keeps the length of each row of W^T
    name = "model.layers.0.mlp.down_proj.MatMul.weight"
    np.testing.assert_allclose(np.linalg.norm(r[name], axis=1), np.linalg.norm(p[name], axis=1), rtol=1e-5)


def outlier_checkpoint(tmp_path):
    """The llama fixture off the int4 grid (noise added), with four input channels of every
    Linear reading the residual stream twenty times larger: the outliers that cost int4 blocks
    their resolution."""
    src, dst = DATA / "llama", tmp_path / "llama_outliers"
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix == ".json":
            shutil.copy(f, dst / f.name)
    rng = np.random.default_rng(0)
    hidden = config(src)["hidden_size"]
    cols = rng.choice(hidden, 4, replace=False)
    out = {}
    for name, w in read_safetensors(src / "model.safetensors").items():
        w = w + rng.standard_normal(w.shape).astype(np.float32) * float(w.std()) * 0.5
        if w.ndim == 2 and w.shape[1] == hidden and "embed_tokens" not in name:
            w[:, cols] *= 20
        out[name] = w.astype(np.float32)
    write_safetensors(dst / "model.safetensors", out)
    return dst


def test_rotation_lowers_int4_error_on_outliers(tmp_path):
    model = outlier_checkpoint(tmp_path)
    cfg = config(model)
    ids = np.array([[(i * 37 + 5) % cfg["vocab_size"] for i in range(32)]], np.int64)
    convert(model, tmp_path / "fp32", "precision=fp32")
    ref = run_logits(tmp_path / "fp32", cfg, ids)["logits"]
    convert(model, tmp_path / "int4", "precision=int4")
    plain = np.sqrt(np.mean((run_logits(tmp_path / "int4", cfg, ids)["logits"] - ref) ** 2))
    for mode in ("hadamard", "random"):
        out = tmp_path / f"int4_{mode}"
        convert(model, out, "precision=int4", f"rotate_mode={mode}")
        rotated = np.sqrt(np.mean((run_logits(out, cfg, ids)["logits"] - ref) ** 2))
        assert rotated < 0.85 * plain, (mode, rotated, plain)
        # and the rotated fp32 model is the same function on these weights too (to float32
        # roundings of activations twenty times larger than the fixture's)
        convert(model, tmp_path / f"fp32_{mode}", "precision=fp32", f"rotate_mode={mode}")
        got = run_logits(tmp_path / f"fp32_{mode}", cfg, ids)["logits"]
        np.testing.assert_allclose(got, ref, atol=2e-4 * float(np.abs(ref).max()), rtol=0)


def odd_checkpoint(tmp_path, hidden, head_dim, heads, kv_heads):
    """A random Llama whose hidden_size and head_dim are not powers of two."""
    dst = tmp_path / f"llama{hidden}"
    dst.mkdir()
    for f in (DATA / "llama").iterdir():
        if f.suffix == ".json" and f.name != "config.json":
            shutil.copy(f, dst / f.name)
    cfg = config(DATA / "llama")
    cfg.update(hidden_size=hidden, head_dim=head_dim, num_attention_heads=heads, num_key_value_heads=kv_heads,
               intermediate_size=2 * hidden)
    (dst / "config.json").write_text(json.dumps(cfg))
    h, q, kv, inter, v = hidden, heads * head_dim, kv_heads * head_dim, 2 * hidden, cfg["vocab_size"]
    rng = np.random.default_rng(3)
    shapes = {"model.embed_tokens.weight": (v, h), "model.norm.weight": (h,), "lm_head.weight": (v, h)}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        shapes.update({pre + "input_layernorm.weight": (h,), pre + "post_attention_layernorm.weight": (h,),
                       pre + "self_attn.q_proj.weight": (q, h), pre + "self_attn.k_proj.weight": (kv, h),
                       pre + "self_attn.v_proj.weight": (kv, h), pre + "self_attn.o_proj.weight": (h, q),
                       pre + "mlp.gate_proj.weight": (inter, h), pre + "mlp.up_proj.weight": (inter, h),
                       pre + "mlp.down_proj.weight": (h, inter)})
    tensors = {}
    for name, shape in shapes.items():
        t = rng.standard_normal(shape).astype(np.float32) * 0.2
        tensors[name] = 1.0 + 0.5 * t if len(shape) == 1 else t
    write_safetensors(dst / "model.safetensors", tensors)
    return dst


# 96 = 12 * 8 and 48 = 12 * 4 (Paley's first construction, q = 11); 112 = 28 * 4 (his second, q = 13)
@pytest.mark.parametrize("hidden,head_dim,heads,kv_heads", [(96, 48, 2, 1), (112, 112, 1, 1)])
def test_hadamard_of_a_power_of_two_times_a_paley_order(tmp_path, hidden, head_dim, heads, kv_heads):
    model = odd_checkpoint(tmp_path, hidden, head_dim, heads, kv_heads)
    cfg = config(model)
    ids = np.array([[3, 17, 40, 99, 5]], np.int64)
    convert(model, tmp_path / "plain", "precision=fp32")
    want = run_logits(tmp_path / "plain", cfg, ids)["logits"]
    for mode in ("hadamard", "random"):
        convert(model, tmp_path / mode, "precision=fp32", f"rotate_mode={mode}", "rotate_seed=2")
        np.testing.assert_allclose(run_logits(tmp_path / mode, cfg, ids)["logits"], want, atol=1e-4, rtol=0)
        emb = initializers(tmp_path / mode)["model.embed_tokens.weight"]
        assert np.abs(emb - initializers(tmp_path / "plain")["model.embed_tokens.weight"]).max() > 1e-2


def test_hadamard_refuses_sizes_it_has_no_matrix_for(tmp_path):
    # 100 = 25 * 4: neither 99 nor 49 is a prime, and 100 is not a multiple of 8
    model = odd_checkpoint(tmp_path, 100, 50, 2, 1)
    proc = convert(model, tmp_path / "out", "precision=fp32", "rotate_mode=hadamard", ok=False)
    assert proc.returncode != 0
    assert "hidden_size is 100" in proc.stderr and "rotate_mode random" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("arch", ["phi3", "gemma"])
def test_unsupported_architecture_is_refused(tmp_path, arch):
    proc = convert(DATA / arch, tmp_path / "out", "precision=fp32", "rotate_mode=hadamard", ok=False)
    assert proc.returncode != 0
    assert "rotate_mode" in proc.stderr and config(DATA / arch)["architectures"][0] in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_bad_mode_and_outputs_in_the_rotated_basis_are_refused(tmp_path):
    proc = convert(DATA / "llama", tmp_path / "a", "rotate_mode=spin", ok=False)
    assert proc.returncode != 0 and "rotate_mode 'spin'" in proc.stderr, proc.stderr
    proc = convert(DATA / "llama", tmp_path / "b", "rotate_mode=hadamard", "include_hidden_states=true", ok=False)
    assert proc.returncode != 0 and "include_hidden_states" in proc.stderr, proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def run_workflow(tmp_path, model, passes, name="run"):
    cfg = {"input_model": {"type": "HfModel", "model_path": str(model)}, "passes": passes,
           "output_dir": str(tmp_path / name), "cache_dir": str(tmp_path / f"{name}_cache")}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    return run_cli("run", "--config", path), tmp_path / name


def find_model(folder):
    found = sorted(pathlib.Path(folder).rglob("model.onnx"))
    assert found, f"no model.onnx under {folder}"
    return found[0].parent


def test_workflow_folds_quarot_into_the_conversion(tmp_path):
    """Quarot → SelectiveMixedPrecision → Rtn → ModelBuilder: the same rotation as convert's own
    parameters give (the same initializers), the mixed bits kept, the logits near fp32's."""
    passes = {"q": {"type": "Quarot", "seed": 5, "rotate_mode": "hadamard"},
              "s": {"type": "SelectiveMixedPrecision", "algorithm": "k_quant_down"},
              "r": {"type": "Rtn", "bits": 4, "group_size": 32, "sym": False, "lm_head": True},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    proc, out = run_workflow(tmp_path, DATA / "llama", passes)
    assert proc.returncode == 0, proc.stderr
    folder = find_model(out)
    wf = initializers(folder)
    norms = [n for n in wf if n.endswith("layernorm.weight")]
    assert norms and all(np.all(wf[n] == 1.0) for n in norms)
    # the float embedding is the one convert writes with rotate_seed=5
    convert(DATA / "llama", tmp_path / "direct", "precision=fp32", "rotate_mode=hadamard", "rotate_seed=5")
    direct = initializers(tmp_path / "direct")
    np.testing.assert_array_equal(wf["model.embed_tokens.weight"], direct["model.embed_tokens.weight"])
    bits = {n.name: {a.name: a.i for a in n.attribute}.get("bits")
            for n in onnx.load(str(folder / "model.onnx")).graph.node if n.op_type == "MatMulNBits"}
    assert 8 in bits.values() and 4 in bits.values(), bits
    cfg = config(DATA / "llama")
    ref = dict(np.load(DATA / "llama" / "reference.npz"))
    got = run_logits(folder, cfg, ref["prefill_ids"])["logits"]
    assert np.mean(got.argmax(-1) == ref["prefill_logits"].argmax(-1)) >= 0.7


def test_workflow_refuses_quarot_without_conversion(tmp_path):
    passes = {"q": {"type": "Quarot"}, "p": {"type": "OnnxPeepholeOptimizer"}}
    proc, out = run_workflow(tmp_path, DATA / "llama", passes)
    assert proc.returncode != 0
    assert "passes.q" in proc.stderr and "ModelBuilder or OnnxConversion pass must follow it" in proc.stderr, \
        proc.stderr
    assert not out.exists()


def test_workflow_quarot_before_onnx_conversion(tmp_path):
    """Quarot → OnnxConversion (fp32): transformers' logits, with the norms folded."""
    passes = {"q": {"type": "Quarot", "rotate_mode": "random", "seed": 3},
              "c": {"type": "OnnxConversion"}}
    proc, out = run_workflow(tmp_path, DATA / "qwen3", passes)
    assert proc.returncode == 0, proc.stderr
    folder = find_model(out)
    # the residual stream's norms fold; Qwen3's per-head q/k norms act after q and k and stay
    inits = initializers(folder)
    folded = [n for n in inits if n.endswith("layernorm.weight") and "_norm.layernorm" not in n]
    assert len(folded) == 5 and all(np.all(inits[n] == 1.0) for n in folded), folded
    assert not np.all(inits["model.layers.0.attn.q_norm.layernorm.weight"] == 1.0)
    ref = dict(np.load(DATA / "qwen3" / "reference.npz"))
    got = run_logits(folder, config(DATA / "qwen3"), ref["prefill_ids"])["logits"]
    np.testing.assert_allclose(got, ref["prefill_logits"], atol=1e-4, rtol=0)
