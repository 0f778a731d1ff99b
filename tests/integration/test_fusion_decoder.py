"""The decoder fusions of the fuse pass (RotaryEmbedding, MultiHeadAttention with past and
present key/values, use_gqa's GroupQueryAttention), run through $OLIVE_APPLY_PASS.

On the graphs of tests/data/fusion_decoder (see make_fixtures.py) the fused operator counts
must equal those of onnxruntime's transformers optimizer (and of its replace_mha_with_gqa for
use_gqa) recorded in refs.json, and onnxruntime must give the unfused graph's outputs within
1e-4. The near misses stay unfused and give the same outputs. onnxruntime's optimizer is also run
live: on the llama2_past_gqa fixture it fuses two MultiHeadAttention, each of which use_gqa
must turn into a GroupQueryAttention; on the Hugging Face exports of tests/data/fusion, which
compute cos/sin on the fly and carry no past, it fuses no decoder op, and neither does the pass,
with or without use_gqa."""

import json
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOOL = os.environ.get("OLIVE_APPLY_PASS")
HERE = os.path.dirname(__file__)
DATA = os.path.join(HERE, "..", "data", "fusion_decoder")
HF_DATA = os.path.join(HERE, "..", "data", "fusion")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

with open(os.path.join(DATA, "refs.json")) as f:
    REFS = json.load(f)
FIXTURES = sorted(k for k in REFS if not k.startswith("_") and not REFS[k].get("no_reference"))
DECODER_OPS = ("RotaryEmbedding", "MultiHeadAttention", "GroupQueryAttention", "Attention")


def run_fuse(src, dst, *params):
    proc = subprocess.run([TOOL, "fuse", str(src), str(dst), *params], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"apply_pass failed ({proc.returncode}): {proc.stderr.strip()}"
    return proc


def op_counts(path):
    counts = {}
    for n in onnx.load(str(path)).graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def feeds_and_outputs(npz_path):
    data = np.load(npz_path)
    feeds = {k[3:]: data[k] for k in data.files if k.startswith("in_")}
    outs = {k[4:]: data[k] for k in data.files if k.startswith("out_")}
    return feeds, outs


def assert_same_outputs(path, npz_path, tol=1e-4):
    feeds, want = feeds_and_outputs(npz_path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=tol, atol=tol, err_msg=k)


def params_of(ref):
    p = [f"model_type={ref['model_type']}", f"num_heads={ref['num_heads']}", f"hidden_size={ref['hidden_size']}"]
    if ref["options"].get("use_gqa"):
        p.append("use_gqa=true")
    return p


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_matches_onnxruntime(name, tmp_path):
    ref = REFS[name]
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, name + ".onnx"), dst, *params_of(ref))
    counts = op_counts(dst)
    got = {op: counts.get(op, 0) for op in ref["fused"]}
    assert got == ref["fused"], f"fused op counts differ from onnxruntime's: ours {got}, ort {ref['fused']}"
    assert_same_outputs(dst, os.path.join(DATA, name + ".npz"))


def test_attention_takes_the_rotary_projections_and_the_cache(tmp_path):
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, "llama2_past.onnx"), dst, "model_type=gpt2")
    graph = onnx.load(str(dst)).graph
    producers = {o: n for n in graph.node for o in n.output}
    mha = [n for n in graph.node if n.op_type == "MultiHeadAttention"]
    assert len(mha) == 2
    for layer, n in enumerate(mha):
        assert n.domain == "com.microsoft"
        assert producers[n.input[0]].op_type == "RotaryEmbedding" and producers[n.input[1]].op_type == "RotaryEmbedding"
        assert producers[n.input[2]].op_type == "MatMul"
        assert n.input[6] == f"past_key_values.{layer}.key" and n.input[7] == f"past_key_values.{layer}.value"
        assert list(n.output[1:]) == [f"present.{layer}.key", f"present.{layer}.value"]
        assert any(a.name == "num_heads" and a.i == 4 for a in n.attribute)


def test_first_step_without_past_fuses(tmp_path):
    """No past inputs: the rotated K and the split V become the fused node's present outputs
    (onnxruntime's optimizer fuses this form too, then fails to sort its graph)."""
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, "llama2_first_step.onnx"), dst, "model_type=gpt2")
    graph = onnx.load(str(dst)).graph
    mha = [n for n in graph.node if n.op_type == "MultiHeadAttention"]
    assert len(mha) == 2 and sum(n.op_type == "RotaryEmbedding" for n in graph.node) == 4
    assert [list(n.output[1:]) for n in mha] == [["present.0.key", "present.0.value"],
                                                 ["present.1.key", "present.1.value"]]
    assert all(len(n.input) == 6 for n in mha) and not any(n.op_type == "Softmax" for n in graph.node)
    assert_same_outputs(dst, os.path.join(DATA, "llama2_first_step.npz"))


def test_first_step_without_cache_outputs_gives_only_the_attention(tmp_path):
    model = onnx.load(os.path.join(DATA, "llama2_first_step.onnx"))
    keep = [o for o in model.graph.output if not o.name.startswith("present")]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    src, dst = tmp_path / "in.onnx", tmp_path / "fused.onnx"
    onnx.save(model, str(src))
    run_fuse(src, dst, "model_type=gpt2")
    mha = [n for n in onnx.load(str(dst)).graph.node if n.op_type == "MultiHeadAttention"]
    assert len(mha) == 2 and all(len(n.output) == 1 for n in mha)
    feeds, want = feeds_and_outputs(os.path.join(DATA, "llama2_first_step.npz"))
    got = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(["last_hidden_state"], feeds)[0]
    np.testing.assert_allclose(got, want["last_hidden_state"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,flawed", [("rotary_wrong_split", 2), ("rotary_halves_differ", 2),
                                         ("rotary_neg_read_elsewhere", 1)])
def test_rotary_near_miss_is_not_fused(name, flawed, tmp_path):
    """flawed: how many of the two rotations (Q, K) carry the flaw; the others still fuse."""
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, name + ".onnx"), dst, "model_type=gpt2")
    counts = op_counts(dst)
    assert counts.get("RotaryEmbedding", 0) == 2 - flawed and counts["Neg"] == flawed
    assert_same_outputs(dst, os.path.join(DATA, name + ".npz"), tol=1e-6)


def test_rotary_with_a_constant_split_fuses(tmp_path):
    """The split point folded to a constant and the caches gathered whole: the same rotation."""
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, "rotary_static_split.onnx"), dst, "model_type=gpt2")
    counts = op_counts(dst)
    assert counts.get("RotaryEmbedding") == 2 and "Neg" not in counts
    assert_same_outputs(dst, os.path.join(DATA, "rotary_static_split.npz"))


def test_attention_with_probabilities_read_elsewhere_is_not_fused(tmp_path):
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, "llama2_past_probs_read_elsewhere.onnx"), dst, "model_type=gpt2")
    counts = op_counts(dst)
    assert "MultiHeadAttention" not in counts and counts["Softmax"] == 1 and counts.get("RotaryEmbedding") == 2
    assert_same_outputs(dst, os.path.join(DATA, "llama2_past_probs_read_elsewhere.npz"))


def test_gqa_needs_a_head_size_the_kernel_takes(tmp_path):
    """Head size 4: onnxruntime's GroupQueryAttention kernel refuses it, MultiHeadAttention stays."""
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, "llama2_past.onnx"), dst, "model_type=gpt2", "use_gqa=true")
    counts = op_counts(dst)
    assert counts.get("MultiHeadAttention") == 2 and "GroupQueryAttention" not in counts
    assert_same_outputs(dst, os.path.join(DATA, "llama2_past.npz"))


def test_gqa_reads_lengths_from_the_attention_mask(tmp_path):
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, "llama2_past_gqa.onnx"), dst, "model_type=gpt2", "use_gqa=true")
    graph = onnx.load(str(dst)).graph
    gqa = [n for n in graph.node if n.op_type == "GroupQueryAttention"]
    assert len(gqa) == 2 and not any(n.op_type in ("RotaryEmbedding", "MultiHeadAttention") for n in graph.node)
    attrs = {a.name: a.i for a in gqa[0].attribute}
    assert attrs["do_rotary"] == 1 and attrs["num_heads"] == 2 and attrs["kv_num_heads"] == 2
    # Both layers share one seqlens_k / total_sequence_length subgraph.
    assert gqa[0].input[5] == gqa[1].input[5] and gqa[0].input[6] == gqa[1].input[6]
    assert sum(n.op_type == "ReduceSum" for n in graph.node) == 1


def test_rotary_switch_turns_rotary_and_attention_off(tmp_path):
    dst = tmp_path / "fused.onnx"
    run_fuse(os.path.join(DATA, "llama2_past.onnx"), dst, "model_type=gpt2",
             "optimization_options=enable_rotary_embeddings=false")
    counts = op_counts(dst)
    assert not any(op in counts for op in DECODER_OPS)
    assert_same_outputs(dst, os.path.join(DATA, "llama2_past.npz"), tol=1e-6)


@pytest.mark.parametrize("name,params", [("llama2_past", ()), ("llama2_past_gqa", ("use_gqa=true",)),
                                         ("rotary_cache", ())])
def test_fusing_twice_changes_nothing(name, params, tmp_path):
    (tmp_path / "once").mkdir()
    (tmp_path / "twice").mkdir()
    once, twice = tmp_path / "once" / "model.onnx", tmp_path / "twice" / "model.onnx"
    run_fuse(os.path.join(DATA, name + ".onnx"), once, "model_type=gpt2", *params)
    run_fuse(once, twice, "model_type=gpt2", *params)
    assert once.read_bytes() == twice.read_bytes()


def hf_decoders():
    if not os.path.exists(os.path.join(HF_DATA, "refs.json")):
        return []
    with open(os.path.join(HF_DATA, "refs.json")) as f:
        refs = json.load(f)
    return sorted(k for k, v in refs.items() if not k.startswith("_") and isinstance(v, dict) and
                  v.get("fused") and v.get("model_type") == "gpt2" and
                  os.path.exists(os.path.join(HF_DATA, k + ".onnx")))


def ort_live_counts(path, num_heads, hidden_size):
    """onnxruntime's transformers optimizer run here (as Olive's OrtTransformersOptimization runs
    it): its decoder op counts."""
    from onnxruntime.transformers.optimizer import optimize_model
    opt = optimize_model(str(path), model_type="gpt2", num_heads=num_heads, hidden_size=hidden_size, opt_level=0)
    counts = {}
    for n in opt.model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return {op: counts.get(op, 0) for op in DECODER_OPS}


def gqa_counts(ort_counts):
    """What use_gqa gives after onnxruntime's optimizer: its replace_mha_with_gqa turns each
    MultiHeadAttention (with the RotaryEmbedding nodes feeding it) into one GroupQueryAttention.
    (Running replace_mha_with_gqa itself needs torch and transformers, which its module imports;
    tests/data/fusion_decoder/refs.json holds its counts for llama2_past_gqa, recorded with them.)"""
    mha = ort_counts["MultiHeadAttention"]
    return {"RotaryEmbedding": ort_counts["RotaryEmbedding"] if mha == 0 else 0, "MultiHeadAttention": 0,
            "GroupQueryAttention": mha, "Attention": ort_counts["Attention"]}


def test_gqa_fixture_fuses_as_onnxruntime_live(tmp_path):
    """On an export onnxruntime does fuse (two layers with past and rotary caches), its optimizer
    run now finds two MultiHeadAttention; use_gqa must give one GroupQueryAttention for each
    (as the recorded replace_mha_with_gqa counts say) and the same outputs."""
    ref = REFS["llama2_past_gqa"]
    path = os.path.join(DATA, "llama2_past_gqa.onnx")
    live = ort_live_counts(path, ref["num_heads"], ref["hidden_size"])
    assert live["MultiHeadAttention"] == 2, live
    assert gqa_counts(live) == {op: ref["fused"].get(op, 0) for op in DECODER_OPS}
    dst = tmp_path / "fused.onnx"
    run_fuse(path, dst, *params_of(ref))
    counts = op_counts(dst)
    assert {op: counts.get(op, 0) for op in DECODER_OPS} == gqa_counts(live)
    assert_same_outputs(dst, os.path.join(DATA, "llama2_past_gqa.npz"))


@pytest.mark.parametrize("name", hf_decoders())
@pytest.mark.parametrize("use_gqa", [False, True], ids=["mha", "gqa"])
def test_hf_exports_fuse_decoder_ops_like_onnxruntime(name, use_gqa, tmp_path):
    """The Hugging Face exports compute cos/sin on the fly and carry no past: onnxruntime's
    optimizer, run here, fuses no decoder op on them (so use_gqa has nothing to replace), and
    the pass, with and without use_gqa, fuses the same."""
    with open(os.path.join(HF_DATA, "refs.json")) as f:
        ref = json.load(f)[name]
    src = os.path.join(HF_DATA, name + ".onnx")
    live = ort_live_counts(src, ref["num_heads"], ref["hidden_size"])
    assert live == {op: ref["fused"].get(op, 0) for op in DECODER_OPS}, "onnxruntime changed: re-record refs.json"
    want = gqa_counts(live) if use_gqa else live
    dst = tmp_path / "fused.onnx"
    run_fuse(src, dst, "model_type=gpt2", f"num_heads={ref['num_heads']}", f"hidden_size={ref['hidden_size']}",
             *(["use_gqa=true"] if use_gqa else []))
    counts = op_counts(dst)
    assert {op: counts.get(op, 0) for op in DECODER_OPS} == want
    assert_same_outputs(dst, os.path.join(HF_DATA, name + ".npz"))
