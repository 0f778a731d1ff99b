"""GPTQ for a decoder with float16 activations (int4 on cuda, dml, webgpu): the workflow chain
Quarot → SelectiveMixedPrecision → Gptq → ModelBuilder calibrates a float32 CPU copy of the
model inside the conversion. The reference is the CPU conversion of the same chain, where the
gptq pass runs on the float32 graph after the conversion: every Linear GPTQ quantized there is
a MatMulNBits here with the same tensor names, the same codes and zero points, and its scales
rounded to float16; the float16 model runs on onnxruntime's CPU provider close to the float32
one."""
import json
import os
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

from olive_testlib import check_with_contrib_layernorm, run_convert  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")
DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert"


def workflow(tmp_path, model, name, ep, gptq=True, quarot=False, builder=None, selection=True, gptq_extra=None,
             expect_ok=True, converter=None):
    """Runs the chain for `ep` into tmp_path / name; calibration on a local text file. The
    output folder, or the process when expect_ok is false."""
    import subprocess
    corpus = tmp_path / "corpus.txt"
    if not corpus.exists():
        corpus.write_text("The quick brown fox jumps over the lazy dog. A stitch in time saves nine.\n" * 60)
    passes = {}
    if quarot:
        passes["q"] = {"type": "Quarot"}
    if selection:
        passes["s"] = {"type": "SelectiveMixedPrecision", "algorithm": "k_quant_down"}
    if gptq:
        passes["g"] = {"type": "gptq", "bits": 4, "sym": False, "group_size": 32, "data_config": "calib",
                       **(gptq_extra or {})}
    passes["m"] = converter or {"type": "ModelBuilder", "precision": "int4", "execution_provider": ep, **(builder or {})}
    cfg = {"input_model": {"type": "HfModel", "model_path": str(model)},
           "data_configs": [{"name": "calib", "type": "HuggingfaceContainer",
                             "load_dataset_config": {"data_name": "text", "data_files": str(corpus), "split": "train"},
                             "pre_process_data_config": {"type": "text_generation_huggingface_pre_process",
                                                         "model_name": str(model), "max_seq_len": 32,
                                                         "max_samples": 8, "use_attention_mask": True}}],
           "passes": passes, "output_dir": str(tmp_path / name), "cache_dir": str(tmp_path / f"{name}_cache")}
    (tmp_path / f"{name}.json").write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(tmp_path / f"{name}.json")], capture_output=True, text=True,
                          timeout=600)
    for alarm in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert alarm not in proc.stderr, proc.stderr
    if not expect_ok:
        return proc
    assert proc.returncode == 0, proc.stderr
    return tmp_path / name


def linears(folder):
    """{MatMul output: node} of the MatMul and MatMulNBits nodes, the model, its initializers."""
    m = onnx.load(str(folder / "model.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    return {n.output[0]: n for n in m.graph.node if n.op_type in ("MatMul", "MatMulNBits")}, m, inits


def attrs(node):
    return {a.name: a.i for a in node.attribute if a.type == onnx.AttributeProto.INT and a.name != "accuracy_level"}


def logits(folder, ids):
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = np.asarray([ids], np.int64)
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones((1, len(ids)), np.int64)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(len(ids), dtype=np.int64)[None]
        else:  # an empty past
            feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float16 if "float16" in i.type else np.float32)
    return sess.run(["logits"], feeds)[0].astype(np.float32)


# (provider, fixture, Quarot first, SelectiveMixedPrecision before Gptq)
CASES = [("cuda", "llama_tied", True, True), ("cuda", "qwen2", False, True), ("dml", "llama_tied", False, True),
         ("webgpu", "llama", True, True), ("cuda", "llama", False, False)]
EXCLUDED = ["/model/layers.0/mlp/down_proj/MatMul", "/model/layers.1/attn/o_proj/MatMul"]


@pytest.mark.parametrize("ep,arch,quarot,selection", CASES)
def test_float16_gptq_takes_the_cpu_gptq_codes(tmp_path, ep, arch, quarot, selection):
    """Without SelectiveMixedPrecision, Olive's Gptq → ModelBuilder is a plan of its own; there
    Gptq's other settings travel too (nodes_to_exclude stay float, damp_percent)."""
    extra = None if selection else {"nodes_to_exclude": EXCLUDED, "damp_percent": 0.05}
    compare_with_cpu(tmp_path, ep, arch, quarot, selection, extra)


def test_act_order_carries_g_idx(tmp_path):
    """desc_act without static_groups: MatMulNBits with g_idx and float zero points, carried with
    the zero points in float16 like the scales (where this build's gptq pass writes them)."""
    extra = {"desc_act": True}
    proc = workflow(tmp_path, DATA / "llama", "probe", "cpu", selection=False, gptq_extra=extra, expect_ok=False)
    if proc.returncode != 0 and "static_groups" in proc.stderr:
        pytest.skip("this gptq pass refuses desc_act without static_groups")
    assert proc.returncode == 0, proc.stderr
    compare_with_cpu(tmp_path, "cuda", "llama", False, False, extra)


def test_onnx_conversion_in_float16_on_cpu(tmp_path):
    """OnnxConversion with torch_dtype float16 after the plan (Olive exports the quantized torch
    model in that dtype): float16 activations on the CPU too, GPTQ from the float32 copy (where
    this build takes OnnxConversion's dtype with a plan)."""
    conv = {"type": "OnnxConversion", "torch_dtype": "float16"}
    proc = workflow(tmp_path, DATA / "qwen2", "probe", "cpu", converter=conv, expect_ok=False)
    if proc.returncode != 0 and "needs precision int4 or int8" in proc.stderr:
        pytest.skip("this build's OnnxConversion takes no quantization plan")
    assert proc.returncode == 0, proc.stderr
    compare_with_cpu(tmp_path, "cpu", "qwen2", False, True, None, converter=conv)


def compare_with_cpu(tmp_path, ep, arch, quarot, selection, extra, converter=None):
    # dml keeps q, k and v apart: so does its float32 copy, and so does the reference here
    builder = {"disable_qkv_fusion": True} if ep == "dml" else None
    ref = workflow(tmp_path, DATA / arch, "cpu", "cpu", quarot=quarot, builder=builder, selection=selection,
                   gptq_extra=extra)
    out = workflow(tmp_path, DATA / arch, f"{ep}_out", ep, quarot=quarot, selection=selection, gptq_extra=extra,
                   converter=converter)
    # the same blocks (32, asymmetric) rounded to nearest
    rtn = workflow(tmp_path, DATA / arch, f"{ep}_rtn", ep, gptq=False, quarot=quarot, selection=selection,
                   builder={"is_symmetric": False}, converter=converter and {**converter, "is_symmetric": False})
    want, _, want_inits = linears(ref)
    got, m, inits = linears(out)
    plain, _, plain_inits = linears(rtn)
    assert set(got) == set(want)
    assert m.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert not [p.key for p in m.metadata_props if p.key.startswith("olive.")]
    gptq_nodes = moved = 0
    for value, w in want.items():
        g = got[value]
        if w.op_type == "MatMul":  # the head, which Olive's Gptq leaves to Rtn (none here): float
            assert g.op_type == "MatMul" and inits[g.input[1]].dtype == np.float16, value
            continue
        gptq_nodes += 1
        assert (g.op_type, g.name, list(g.input[1:]), attrs(g)) == ("MatMulNBits", w.name, list(w.input[1:]),
                                                                   attrs(w)), value
        assert np.array_equal(inits[g.input[1]], want_inits[w.input[1]]), value
        assert inits[g.input[2]].dtype == np.float16
        assert np.array_equal(inits[g.input[2]], want_inits[w.input[2]].astype(np.float16)), value
        zp = want_inits[w.input[3]]  # uint8, or float with act-order's g_idx
        zp = zp.astype(np.float16) if zp.dtype == np.float32 else zp
        assert np.array_equal(inits[g.input[3]], zp), value
        if len(w.input) > 4:
            assert np.array_equal(inits[g.input[4]], want_inits[w.input[4]]), value
        # GPTQ's error feedback moves codes away from the round to nearest of a plain conversion
        p = plain[value]
        assert plain_inits[p.input[1]].shape == inits[g.input[1]].shape and len(p.input) == 4, value
        moved += not np.array_equal(inits[g.input[1]], plain_inits[p.input[1]])
    layers = json.loads((DATA / arch / "config.json").read_text())["num_hidden_layers"]
    assert gptq_nodes == layers * (7 if ep == "dml" else 5) - len((extra or {}).get("nodes_to_exclude", []))
    assert moved == gptq_nodes
    check_with_contrib_layernorm(out / "model.onnx")
    ids = [1, 5, 9, 20, 33, 7]
    # float16 activations (and the int8 compute of accuracy_level 4, cpu's and webgpu's, on float16
    # inputs) move the logits a little; the float16 model with plain round to nearest is ten
    # times further
    ref_logits = logits(ref, ids)
    err = np.abs(logits(out, ids) - ref_logits).max()
    assert err <= 0.05 * np.abs(ref_logits).max()
    assert err * 10 < np.abs(logits(rtn, ids) - ref_logits).max()


def test_gptq_inside_the_conversion_needs_calibration_data(tmp_path):
    """Without a workflow's Gptq pass, a plan's GPTQ part for a float16 provider names the
    parameter that gives it data; nothing is written."""
    plan = json.dumps({"bits": 4, "group_size": 32, "symmetric": False, "lm_head": False,
                       "gptq": {"bits": 4, "group_size": 32, "symmetric": False}})
    out = tmp_path / "out"
    proc = run_convert(CLI, DATA / "llama", out, "precision=int4", "execution_provider=cuda", f"quant_plan={plan}",
                       expect_ok=False)
    assert proc.returncode != 0 and "gptq_calibration_data" in proc.stderr
    assert not out.exists()


def test_gptq_setting_unknown_to_the_gptq_pass_is_refused(tmp_path):
    plan = json.dumps({"bits": 4, "group_size": 32, "symmetric": False, "lm_head": False,
                       "gptq": {"bits": 4, "settings": {"damping": "0.1"}}})
    out = tmp_path / "out"
    (tmp_path / "data").mkdir()
    proc = run_convert(CLI, DATA / "llama", out, "precision=int4", "execution_provider=cuda", f"quant_plan={plan}",
                       f"gptq_calibration_data={tmp_path / 'data'}", expect_ok=False)
    assert proc.returncode != 0 and "quant_plan.gptq.settings.damping" in proc.stderr
    assert not out.exists()


def test_gptq_failing_on_the_copy_names_it_and_writes_nothing(tmp_path):
    """The gptq pass's own error on the float32 copy (here: calibration data without input_ids)
    comes back through the conversion, which writes nothing."""
    plan = json.dumps({"bits": 4, "group_size": 32, "symmetric": False, "lm_head": False, "gptq": {"bits": 4}})
    out = tmp_path / "out"
    (tmp_path / "data").mkdir()
    proc = run_convert(CLI, DATA / "llama", out, "precision=int4", "execution_provider=cuda", f"quant_plan={plan}",
                       f"gptq_calibration_data={tmp_path / 'data'}", expect_ok=False)
    assert proc.returncode != 0
    assert "GPTQ on the float32 CPU copy" in proc.stderr and "input_ids" in proc.stderr
    assert not out.exists()
