"""The convert pass on ViT and CLIP encoders, against Hugging Face transformers and onnxruntime.

Tiny random checkpoints (tests/data/convert_vision, made by make_fixtures.py: ViTModel,
ViTForImageClassification, CLIPModel, CLIPTextModel, CLIPVisionModel and the CLIP towers
WithProjection) are converted with
`olive run-pass --pass convert`; the output must pass onnx's checker, take and give the inputs
and outputs optimum's exports name, and give in onnxruntime transformers' outputs for two
batches within 1e-4 in fp32 (2e-2 in fp16). Its fused operators must be those onnxruntime's
transformers optimizer writes (optimize_model with model_type vit / clip) on the torch.onnx
export of the same model, count for count, and libolive's fuse pass on that export must fuse
the same. Config values the converter does not handle are
refused by name, and no output folder is written."""

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
from olive_testlib import read_safetensors, run_convert, write_safetensors  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
APPLY_PASS = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert_vision"
LAYERS = 2
FUSED = ("Attention", "MultiHeadAttention", "LayerNormalization", "SkipLayerNormalization", "BiasGelu", "FastGelu",
         "Gelu", "QuickGelu", "EmbedLayerNormalization")
# fixture: (onnxruntime optimizer model_type, towers, graph inputs, graph outputs)
FIXTURES = {
    "vit_model": ("vit", 1, ["pixel_values"], ["last_hidden_state", "pooler_output"]),
    "vit_imgcls": ("vit", 1, ["pixel_values"], ["logits"]),
    "clip_model": ("clip", 2, ["input_ids", "pixel_values", "attention_mask"],
                   ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"]),
    "clip_text": ("clip", 1, ["input_ids", "attention_mask"], ["last_hidden_state", "pooler_output"]),
    "clip_vision": ("clip", 1, ["pixel_values"], ["last_hidden_state", "pooler_output"]),
    "clip_text_projection": ("clip", 1, ["input_ids", "attention_mask"], ["text_embeds", "last_hidden_state"]),
    "clip_vision_projection": ("clip", 1, ["pixel_values"], ["image_embeds", "last_hidden_state"]),
}


def convert(src, out, *params, expect_ok=True):
    return run_convert(CLI, src, out, *params, expect_ok=expect_ok)


def load(out):
    found = sorted(pathlib.Path(out).glob("*.onnx"))
    assert len(found) == 1, found
    onnx.checker.check_model(str(found[0]))
    return found[0], onnx.load(str(found[0]))


def op_counts(model):
    return collections.Counter(n.op_type for n in model.graph.node)


def ort_fused(fixture, model_type):
    """onnxruntime's transformers optimizer on the torch.onnx export of the fixture: its Python
    fusions only (opt_level 0), as Olive's OrtTransformersOptimization runs them."""
    from onnxruntime.transformers.optimizer import optimize_model
    opt = optimize_model(str(DATA / "exports" / f"{fixture}.onnx"), model_type=model_type, num_heads=4,
                         hidden_size=32, opt_level=0)
    return op_counts(opt.model)


def compare(path, ref, tol):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in sess.get_inputs()]
    outputs = [o.name for o in sess.get_outputs()]
    worst = {}
    for b in (0, 1):
        got = dict(zip(outputs, sess.run(None, {n: ref[f"{n}_{b}"] for n in inputs})))
        for name, value in got.items():
            want = ref[f"{name}_{b}"]
            assert value.shape == want.shape, name
            if name == "last_hidden_state" and f"attention_mask_{b}" in ref:
                # transformers' values at padded text positions are not part of the contract
                err = float(np.abs(value - want)[ref[f"attention_mask_{b}"].astype(bool)].max())
            else:
                err = float(np.abs(value - want).max())
            worst[name] = max(worst.get(name, 0.0), err)
    for name, err in worst.items():
        assert err <= tol, f"{path}: {name} differs from transformers by {err:.3g} (tolerance {tol})"
    return worst


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_fp32_matches_transformers(fixture, tmp_path):
    model_type, towers, inputs, outputs = FIXTURES[fixture]
    src = DATA / fixture
    convert(src, tmp_path / "out", "precision=fp32")
    path, model = load(tmp_path / "out")
    assert [i.name for i in model.graph.input] == inputs
    assert [o.name for o in model.graph.output] == outputs
    for i in model.graph.input:
        assert i.type.tensor_type.shape.dim[0].dim_param == "batch"

    ours, theirs = op_counts(model), ort_fused(fixture, model_type)
    if "input_ids" in inputs:
        # onnxruntime 1.32 fuses the text tower's attention only with the causal mask subgraph
        # of transformers 4's export (Less, Where, Unsqueeze, Expand, Concat), not with
        # transformers 5's mask; the vision tower's attention it fuses, one Attention per layer
        # as here. Ours is causal Attention (unidirectional) over the padding mask.
        assert theirs["Attention"] == LAYERS * (towers - 1), theirs
        theirs["Attention"] += LAYERS
        causal = [n for n in model.graph.node if n.op_type == "Attention" and
                  any(a.name == "unidirectional" and a.i == 1 for a in n.attribute)]
        assert len(causal) == LAYERS
    assert {op: ours[op] for op in FUSED} == {op: theirs[op] for op in FUSED}, (dict(ours), dict(theirs))
    assert ours["Attention"] == LAYERS * towers
    assert not {"Softmax", "Erf", "ReduceMean", "Sqrt"} & set(ours), ours
    assert all(n.domain == "com.microsoft" for n in model.graph.node if n.op_type == "Attention")

    worst = compare(path, np.load(src / "reference.npz"), 1e-4)
    print(fixture, {op: ours[op] for op in FUSED if ours[op]}, {k: f"{v:.2e}" for k, v in worst.items()})


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_fuse_pass_on_export_matches_onnxruntime(fixture, tmp_path):
    """libolive's fuse pass on the same torch.onnx export fuses what onnxruntime's optimizer
    fuses, and the fused export still gives transformers' outputs."""
    if not APPLY_PASS:
        pytest.skip("OLIVE_APPLY_PASS is not set")
    model_type = FIXTURES[fixture][0]
    out = tmp_path / "fused.onnx"
    proc = subprocess.run([APPLY_PASS, "fuse", str(DATA / "exports" / f"{fixture}.onnx"), str(out),
                           f"model_type={model_type}", "num_heads=4", "hidden_size=32"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    ours, theirs = op_counts(onnx.load(str(out))), ort_fused(fixture, model_type)
    assert {op: ours[op] for op in FUSED} == {op: theirs[op] for op in FUSED}, (dict(ours), dict(theirs))
    compare(out, np.load(DATA / fixture / "reference.npz"), 1e-4)


@pytest.mark.parametrize("fixture", ["vit_model", "clip_model", "clip_text", "clip_vision"])
def test_fp16_close_to_transformers(fixture, tmp_path):
    src = DATA / fixture
    convert(src, tmp_path / "out", "precision=fp16")
    path, model = load(tmp_path / "out")
    types = {t.name: t.data_type for t in model.graph.initializer}
    assert onnx.TensorProto.FLOAT16 in {types[n.input[1]] for n in model.graph.node if n.op_type == "Attention"}
    for v in list(model.graph.input) + list(model.graph.output):
        want = onnx.TensorProto.INT64 if v.name in ("input_ids", "attention_mask") else onnx.TensorProto.FLOAT
        assert v.type.tensor_type.elem_type == want, v.name
    compare(path, np.load(src / "reference.npz"), 2e-2)


@pytest.mark.parametrize("fixture, towers", [("vit_imgcls", 1), ("clip_model", 2)])
def test_int8_uses_matmulnbits(fixture, towers, tmp_path):
    src = DATA / fixture
    convert(src, tmp_path / "out", "precision=int8", "block_size=32")
    path, model = load(tmp_path / "out")
    ops = op_counts(model)
    assert ops["MatMulNBits"] == 3 * LAYERS * towers and ops["MatMul"] == 0, ops
    assert ops["Attention"] == LAYERS * towers, ops
    compare(path, np.load(src / "reference.npz"), 0.15)


def edited_copy(tmp_path, fixture, changes, section=None):
    dst = tmp_path / "src"
    shutil.copytree(DATA / fixture, dst)
    config = json.loads((dst / "config.json").read_text())
    target = config[section] if section else config
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    (dst / "config.json").write_text(json.dumps(config))
    return dst


@pytest.mark.parametrize("fixture, section, changes, needles", [
    ("vit_model", None, {"qkv_bias": False}, ["qkv_bias", "config.json"]),
    ("vit_model", None, {"image_size": [16, 12]}, ["image_size [16, 12]", "config.json"]),
    ("vit_model", None, {"patch_size": 3}, ["image_size", "patch_size"]),
    ("vit_model", None, {"pooler_act": "relu"}, ["pooler_act", "relu"]),
    ("vit_model", None, {"hidden_act": "swish"}, ["hidden_act", "swish"]),
    ("vit_model", None, {"hidden_size": None}, ["hidden_size", "missing"]),
    ("vit_imgcls", None, {"intermediate_size": 48}, ["vit.encoder.layer.0.intermediate.dense.weight", "[64, 32]"]),
    ("vit_model", None, {"image_size": 32}, ["embeddings.position_embeddings", "model.safetensors"]),
    ("clip_model", "text_config", {"hidden_act": "swish"}, ["text_config.hidden_act", "swish"]),
    ("clip_model", "vision_config", {"patch_size": [4, 2]}, ["vision_config.patch_size [4, 2]", "config.json"]),
    ("clip_model", "vision_config", {"patch_size": 5}, ["vision_config.image_size", "patch_size 5"]),
    ("clip_model", None, {"text_config": None}, ["text_config", "missing"]),
    ("clip_model", "vision_config", {"intermediate_size": 48},
     ["vision_model.encoder.layers.0.mlp.fc1.weight", "[64, 32]"]),
    ("clip_text", None, {"eos_token_id": None}, ["eos_token_id", "missing"]),
    ("clip_text", None, {"eos_token_id": 100}, ["eos_token_id", "outside"]),
    ("clip_vision", None, {"num_channels": 1}, ["embeddings.patch_embedding.weight", "[32, 3, 4, 4]"]),
])
def test_bad_config_is_refused_by_name(fixture, section, changes, needles, tmp_path):
    src = edited_copy(tmp_path, fixture, changes, section)
    out = tmp_path / "out"
    proc = convert(src, out, expect_ok=False)
    assert proc.returncode not in (0, -11, -6), proc.stderr
    for needle in needles:
        assert needle in proc.stderr, f"{needle!r} not in {proc.stderr!r}"
    assert not out.exists()


@pytest.mark.parametrize("fixture, prefix", [("clip_text", "text_model."), ("clip_vision", "vision_model.")])
def test_tower_saved_with_model_prefix(fixture, prefix, tmp_path):
    """CLIPTextModel and CLIPVisionModel saved by transformers 4 name their tensors under
    text_model. / vision_model. (transformers 5 drops the prefix there, and keeps it in the
    WithProjection towers): the same model either way."""
    src = tmp_path / "src"
    shutil.copytree(DATA / fixture, src)
    tensors = read_safetensors(src / "model.safetensors")
    assert not any(n.startswith(prefix) for n in tensors)
    write_safetensors(src / "model.safetensors", {prefix + n: v for n, v in tensors.items()})
    convert(src, tmp_path / "out", "precision=fp32")
    path, _ = load(tmp_path / "out")
    compare(path, np.load(DATA / fixture / "reference.npz"), 1e-4)
