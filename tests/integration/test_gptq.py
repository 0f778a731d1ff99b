"""The gptq pass (Olive's Gptq), run through $OLIVE_APPLY_PASS on MatMul models with
calibration inputs, against the numpy reference of AutoGPTQ's algorithm in gptq_reference.py
(same inputs, same Hessian accumulation): scales within 1e-5, codes equal (a code may only
differ where float32 rounding of the two Cholesky implementations puts a value on the other
side of a rounding boundary: at most 0.1% of them). The MatMulNBits model runs in onnxruntime,
and GPTQ's output is closer to the float model on calibration-like inputs than RTN's."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import gptq_reference as ref  # noqa: E402
from olive_testlib import apply_pass, session  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")


def model_of(weights, k, seq):
    """X [1, seq, k] -> MatMul with each weight (all read X), outputs Y0, Y1, ..."""
    nodes, outs, inits = [], [], []
    for i, w in enumerate(weights):
        inits.append(numpy_helper.from_array(w, f"W{i}"))
        nodes.append(helper.make_node("MatMul", ["X", f"W{i}"], [f"Y{i}"], name=f"mm{i}"))
        outs.append(helper.make_tensor_value_info(f"Y{i}", TensorProto.FLOAT, ["b", seq, w.shape[1]]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["b", seq, k])],
                              outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def correlated_inputs(rng, n, seq, k):
    """Inputs with correlated features and a few strong channels, as real activations have
    (the same feature mixing for every call)."""
    mix = np.random.default_rng(99).standard_normal((k, k)).astype(np.float32) / np.sqrt(k)
    x = rng.standard_normal((n, seq, k)).astype(np.float32) @ mix
    x[..., :3] *= 6
    return x.astype(np.float32)


def unpack(model, name_prefix):
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    node = next(n for n in model.graph.node if n.op_type == "MatMulNBits" and n.name.startswith(name_prefix))
    attrs = {a.name: a.i for a in node.attribute}
    b, scales = inits[node.input[1]], inits[node.input[2]]
    n_, kb, blob = b.shape
    if attrs["bits"] == 4:
        codes = np.stack([b & 15, b >> 4], -1).reshape(n_, kb * blob * 2)
    else:
        codes = b.reshape(n_, kb * blob)
    zps = None
    if len(node.input) > 3 and node.input[3]:
        z = inits[node.input[3]]
        if z.dtype == np.float32:  # with g_idx: float zero points holding the integers
            return codes[:, :attrs["K"]], scales, z[:, :kb].astype(np.uint8), attrs
        zps = np.stack([z & 15, z >> 4], -1).reshape(n_, -1)[:, :kb] if attrs["bits"] == 4 else z[:, :kb]
    return codes[:, :attrs["K"]], scales, zps, attrs


def g_idx_of(model, name_prefix):
    """The g_idx input of the MatMulNBits named name_prefix..., or None."""
    node = next(n for n in model.graph.node if n.op_type == "MatMulNBits" and n.name.startswith(name_prefix))
    if len(node.input) < 5 or not node.input[4]:
        return None
    return next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == node.input[4])


@pytest.mark.parametrize("opts", [
    dict(bits=4, group_size=32, sym=False, desc_act=False, static_groups=False),
    dict(bits=4, group_size=128, sym=True, desc_act=False, static_groups=False),
    dict(bits=8, group_size=64, sym=False, desc_act=True, static_groups=True),
    dict(bits=4, group_size=32, sym=False, desc_act=True, static_groups=False),
    dict(bits=4, group_size=64, sym=True, desc_act=True, static_groups=False),
])
def test_gptq_matches_reference(tmp_path, opts):
    rng = np.random.default_rng(5)
    k, seq = 256, 16
    weights = [rng.standard_normal((k, 48)).astype(np.float32) * 0.05, rng.standard_normal((k, 40)).astype(np.float32)]
    x = correlated_inputs(rng, 40, seq, k)  # 640 rows for K = 256: a well-determined Hessian
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "X.npy", x)
    params = [f"calibration_data={tmp_path / 'calib'}"] + [f"{key}={str(v).lower()}" for key, v in opts.items()]
    out = apply_pass("Gptq", model_of(weights, k, seq), tmp_path, *params)
    h = ref.hessian([x[i:i + 1] for i in range(len(x))])
    for i, w in enumerate(weights):
        codes, scales, zps, attrs = unpack(out, f"mm{i}")
        assert attrs["block_size"] == opts["group_size"] and attrs["bits"] == opts["bits"]
        rq, rs, rz, g_idx = ref.gptq(w.T, h, bits=opts["bits"], group_size=opts["group_size"], sym=opts["sym"],
                                     desc_act=opts["desc_act"], static_groups=opts["static_groups"])
        written = g_idx_of(out, f"mm{i}")
        if opts["desc_act"] and not opts["static_groups"]:
            # act-order groups scattered rows: MatMulNBits gets them as g_idx
            assert written is not None and not np.array_equal(g_idx, np.arange(k) // opts["group_size"])
            np.testing.assert_array_equal(written, g_idx)
        else:
            assert written is None
            np.testing.assert_array_equal(g_idx, np.arange(k) // opts["group_size"])
        np.testing.assert_allclose(scales, rs, rtol=1e-5, atol=0)
        if zps is not None:
            np.testing.assert_array_equal(zps, rz.astype(np.uint8))
        else:
            assert opts["sym"]
        mismatched = int((codes != rq).sum())
        print(f"{opts}: W{i}: {mismatched} of {codes.size} codes differ from the reference")
        assert mismatched <= codes.size // 1000, f"{mismatched} of {codes.size} codes differ"
    # The quantized model runs and GPTQ beats round-to-nearest on inputs like the calibration's.
    (tmp_path / "rtn").mkdir()
    rtn = apply_pass("quantize", model_of(weights, k, seq), tmp_path / "rtn", f"bits={opts['bits']}",
                     f"block_size={opts['group_size']}", "algorithm=rtn", f"is_symmetric={str(opts['sym']).lower()}")
    test_x = correlated_inputs(np.random.default_rng(6), 1, seq, k)  # held out, distributed as calibration
    want = session(model_of(weights, k, seq)).run(None, {"X": test_x})
    got = session(out).run(None, {"X": test_x})
    base = session(rtn).run(None, {"X": test_x})
    for w_, g_, b_ in zip(want, got, base):
        assert np.linalg.norm(g_ - w_) < np.linalg.norm(b_ - w_)


@pytest.mark.parametrize("params,expect", [
    (("bits=3",), "must be between 4 and 8"),
    (("bits=5",), "MatMulNBits takes 4 or 8"),
    (("group_size=48",), "power of 2"),
    (("desc_act=true",), None),
    ((), None),
])
def test_gptq_bad_input(tmp_path, params, expect):
    rng = np.random.default_rng(1)
    model = model_of([rng.standard_normal((32, 8)).astype(np.float32)], 32, 4)
    (tmp_path / "calib").mkdir()
    calib = [f"calibration_data={tmp_path / 'calib'}"]
    if expect is None:  # an empty calibration set
        np.save(tmp_path / "calib" / "X.npy", np.zeros((0, 4, 32), np.float32))
        expect = "empty"
    else:
        np.save(tmp_path / "calib" / "X.npy", rng.standard_normal((2, 4, 32)).astype(np.float32))
    proc, out = apply_pass("gptq", model, tmp_path, *calib, *params, expect_ok=False)
    assert proc.returncode != 0 and expect in proc.stderr
    assert not out.exists()


def test_gptq_dead_inputs_need_no_data_and_zero_inputs_fail_cleanly(tmp_path):
    """All-zero calibration inputs: every column is dead (H = I after the fix-up), GPTQ still
    gives valid MatMulNBits."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((32, 8)).astype(np.float32)
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "X.npy", np.zeros((2, 4, 32), np.float32))
    out = apply_pass("gptq", model_of([w], 32, 4), tmp_path, f"calibration_data={tmp_path / 'calib'}",
                     "group_size=16")
    y = session(out).run(None, {"X": np.zeros((1, 4, 32), np.float32)})[0]
    assert np.all(y == 0)


TEXT = ("The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step. "
        "All that glitters is not gold. Where there is a will there is a way. Actions speak louder than words. "
        "Knowledge is power, and time is money; practice makes perfect while haste makes waste. ") * 8


def decoder_feeds(model, x):
    """A converted tiny decoder's inputs for token ids x: the mask all ones, the past empty."""
    out = {"input_ids": x, "attention_mask": np.ones_like(x)}
    for i in model.graph.input:
        if i.name.startswith("past_key_values"):
            out[i.name] = np.zeros((len(x), 2, 0, 16), np.float32)
    return out


@pytest.mark.parametrize("algorithm", ["gptq", "awq"])
def test_int4_decoder_logits_closer_to_fp32_than_rtn(tmp_path, algorithm):
    """A tiny Llama checkpoint converted to ONNX, calibrated on tokenized English text: the
    logits of GPTQ int4 and AWQ int4 on held-out text are closer to fp32's than RTN int4's."""
    from tokenizers import Tokenizer

    from olive_testlib import run_convert

    cli = os.environ.get("OLIVE_CLI")
    src = os.path.join(os.path.dirname(__file__), "..", "data", "convert", "llama")
    run_convert(cli, src, tmp_path / "fp32")
    model = onnx.load(str(tmp_path / "fp32" / "model.onnx"))
    ids = Tokenizer.from_file(os.path.join(src, "tokenizer.json")).encode(TEXT).ids
    seq, n = 32, 16
    ids = np.array(ids[:seq * (n + 1)], np.int64).reshape(n + 1, seq)
    calib, held_out = ids[:n], ids[n:]

    def feeds(x):
        return decoder_feeds(model, x)

    (tmp_path / "calib").mkdir()
    # Only the token ids and the mask: the past key/value inputs are fed empty.
    for name in ("input_ids", "attention_mask"):
        np.save(tmp_path / "calib" / f"{name}.npy", feeds(calib)[name])
    gptq = apply_pass(algorithm, model, tmp_path, f"calibration_data={tmp_path / 'calib'}", "group_size=32",
                      check=False)
    (tmp_path / "rtn").mkdir()
    rtn = apply_pass("quantize", model, tmp_path / "rtn", "algorithm=rtn", "block_size=32", "bits=4", check=False)
    assert sum(n.op_type == "MatMulNBits" for n in gptq.graph.node) == sum(
        n.op_type == "MatMulNBits" for n in rtn.graph.node) > 0
    want = session(model).run(["logits"], feeds(held_out))[0]
    got = session(gptq).run(["logits"], feeds(held_out))[0]
    base = session(rtn).run(["logits"], feeds(held_out))[0]
    print(f"logit error vs fp32: {algorithm} {np.linalg.norm(got - want):.4f}, rtn {np.linalg.norm(base - want):.4f}")
    assert np.linalg.norm(got - want) < np.linalg.norm(base - want)


def test_gptq_hessian_not_positive_definite_names_the_matmul(tmp_path):
    """Activations holding inf make the Hessian non-finite: no damping helps, and the error names
    the MatMul; nothing is written."""
    rng = np.random.default_rng(3)
    model = model_of([rng.standard_normal((32, 8)).astype(np.float32)], 32, 4)
    x = rng.standard_normal((2, 4, 32)).astype(np.float32)
    x[1, 2, 5] = np.inf
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "X.npy", x)
    proc, out = apply_pass("gptq", model, tmp_path, f"calibration_data={tmp_path / 'calib'}", "group_size=16",
                           expect_ok=False)
    assert proc.returncode != 0
    assert "MatMul 'mm0'" in proc.stderr and "not positive definite" in proc.stderr, proc.stderr
    assert not out.exists()


def test_gptq_per_node_bits(tmp_path):
    """customized_weight_config gives one MatMul 8 bits and group 64: its codes and scales are
    the reference's for those settings, the other MatMul's for the pass's own (4 bits, 32)."""
    rng = np.random.default_rng(8)
    k, seq = 128, 8
    weights = [rng.standard_normal((k, 24)).astype(np.float32), rng.standard_normal((k, 16)).astype(np.float32)]
    x = correlated_inputs(rng, 40, seq, k)
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "X.npy", x)
    out = apply_pass("gptq", model_of(weights, k, seq), tmp_path, f"calibration_data={tmp_path / 'calib'}",
                     "bits=4", "group_size=32", "sym=false",
                     'customized_weight_config="{\\"mm1\\": {\\"bits\\": 8, \\"group_size\\": 64}}"')
    h = ref.hessian([x[i:i + 1] for i in range(len(x))])
    for i, (bits, group) in enumerate([(4, 32), (8, 64)]):
        codes, scales, zps, attrs = unpack(out, f"mm{i}")
        assert (attrs["bits"], attrs["block_size"]) == (bits, group)
        rq, rs, rz, _ = ref.gptq(weights[i].T, h, bits=bits, group_size=group, sym=False, desc_act=False,
                                 static_groups=False)
        np.testing.assert_allclose(scales, rs, rtol=1e-5, atol=0)
        np.testing.assert_array_equal(zps, rz.astype(np.uint8))
        assert int((codes != rq).sum()) <= codes.size // 1000
    session(out)  # loads in onnxruntime


def layer_of(name):
    """The decoder layer a MatMul belongs to ("/model/layers.1/..." -> 1); the head comes last."""
    import re
    m = re.search(r"layers\.(\d+)", name)
    return int(m.group(1)) if m else 1 << 30


@pytest.mark.parametrize("arch", ["llama", "qwen3"])  # qwen3: tied embeddings (a Transpose before the lookup)
def test_gptq_layerwise_calibrates_each_layer_on_the_quantized_layers_before_it(tmp_path, arch):
    """As Olive's Gptq runs it: layer s is calibrated on what layers 0..s-1 produce once
    quantized. Reference: for each layer, the float model with the MatMuls of the layers before
    it replaced by the pass's own MatMulNBits is run by onnxruntime (optimizations off, one
    sample per run as the pass runs them), the layer's MatMul inputs captured, and the numpy
    GPTQ reference run on them: its codes and scales must equal the pass's. The same check
    fails for layerwise=false (inputs from the float model), so the test sees the difference.
    The embedding lookup is done by the pass itself, outside ONNX Runtime: the equal codes of
    layer 0 check it."""
    from tokenizers import Tokenizer

    from olive_testlib import run_convert

    cli = os.environ.get("OLIVE_CLI")
    src = os.path.join(os.path.dirname(__file__), "..", "data", "convert", arch)
    run_convert(cli, src, tmp_path / "fp32")
    model = onnx.load(str(tmp_path / "fp32" / "model.onnx"))
    ids = Tokenizer.from_file(os.path.join(src, "tokenizer.json")).encode(TEXT).ids
    n, seq = 6, 32
    calib = np.array(ids[:n * seq], np.int64).reshape(n, seq)
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "input_ids.npy", calib)
    np.save(tmp_path / "calib" / "attention_mask.npy", np.ones_like(calib))
    outs = {}
    for mode in ("true", "false"):
        (tmp_path / mode).mkdir()
        outs[mode] = apply_pass("Gptq", model, tmp_path / mode, f"calibration_data={tmp_path / 'calib'}",
                                "group_size=32", f"layerwise={mode}", check=False)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    matmuls = [nd for nd in model.graph.node if nd.op_type == "MatMul" and nd.input[1] in weights
               and weights[nd.input[1]].ndim == 2]
    assert len({layer_of(nd.name) for nd in matmuls}) == 3  # two layers and the head

    def feeds(x):
        return decoder_feeds(model, x)

    def mismatches(out):
        """Per layer: the share of codes that differ from the reference, and whether scales agree."""
        q_nodes = {nd.name: nd for nd in out.graph.node if nd.op_type == "MatMulNBits"}
        q_inits = [t for t in out.graph.initializer]
        result = {}
        for layer in sorted({layer_of(nd.name) for nd in matmuls}):
            hybrid = onnx.ModelProto()
            hybrid.CopyFrom(model)
            for i, nd in enumerate(hybrid.graph.node):
                if nd.op_type == "MatMul" and nd.name + "_Q4" in q_nodes and layer_of(nd.name) < layer:
                    hybrid.graph.node[i].CopyFrom(q_nodes[nd.name + "_Q4"])
            hybrid.graph.initializer.extend(q_inits)
            hybrid.opset_import.extend([helper.make_opsetid("com.microsoft", 1)])
            mine = [nd for nd in matmuls if layer_of(nd.name) == layer]
            names = sorted({nd.input[0] for nd in mine})
            hybrid.graph.output.extend([helper.make_empty_tensor_value_info(x) for x in names])
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            so.log_severity_level = 3
            sess = ort.InferenceSession(hybrid.SerializeToString(), so, providers=["CPUExecutionProvider"])
            captured = {x: [] for x in names}
            for s in range(n):
                for x, v in zip(names, sess.run(names, feeds(calib[s:s + 1]))):
                    captured[x].append(v)
            bad, total, scales_ok = 0, 0, True
            for nd in mine:
                h = ref.hessian(captured[nd.input[0]])
                rq, rs, rz, _ = ref.gptq(weights[nd.input[1]].T, h, bits=4, group_size=32, sym=False)
                codes, scales, zps, _ = unpack(out, nd.name + "_Q4")
                bad += int((codes != rq).sum())
                total += codes.size
                scales_ok = scales_ok and np.allclose(scales, rs, rtol=1e-5, atol=0) and np.array_equal(
                    zps, rz.astype(np.uint8))
            result[layer] = (bad / total, scales_ok)
        return result

    layerwise = mismatches(outs["true"])
    print("layerwise:", layerwise)
    for layer, (share, scales_ok) in layerwise.items():
        assert share <= 0.001 and scales_ok, f"layer {layer}: {share:.4%} codes differ, scales equal: {scales_ok}"
    flat = mismatches(outs["false"])
    print("from the float model:", flat)
    assert any(share > 0.001 or not ok for layer, (share, ok) in flat.items() if layer > 0)


def test_gptq_layerwise_token_id_outside_the_vocabulary_is_named(tmp_path):
    """The pass does the embedding lookup itself: a token id past the table is refused by name,
    nothing is written."""
    from olive_testlib import run_convert

    src = os.path.join(os.path.dirname(__file__), "..", "data", "convert", "llama")
    run_convert(os.environ.get("OLIVE_CLI"), src, tmp_path / "fp32")
    model = onnx.load(str(tmp_path / "fp32" / "model.onnx"))
    ids = np.full((2, 8), 5, np.int64)
    ids[1, 3] = 10 ** 6
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "input_ids.npy", ids)
    np.save(tmp_path / "calib" / "attention_mask.npy", np.ones_like(ids))
    proc, out = apply_pass("Gptq", model, tmp_path, f"calibration_data={tmp_path / 'calib'}", "group_size=32",
                           expect_ok=False)
    assert proc.returncode != 0 and not out.exists()
    assert "input_ids" in proc.stderr and "1000000" in proc.stderr, proc.stderr
