"""Generates the decoder fusion fixtures: small graphs in the forms onnxruntime's transformers
optimizer fuses (rotary embeddings with cos/sin caches gathered by position ids, as in LLaMA-2
exports), built with onnx.helper, with the references the tests compare against.

The Hugging Face decoder exports of tests/data/fusion compute cos/sin on the fly and carry no
past key/values; onnxruntime's optimizer fuses neither rotary embeddings nor attention there.
These graphs hold the forms it does fuse.

For each fixture <name>:
  <name>.onnx       the unfused graph
  <name>.npz        input feeds (in_<input>) and the unfused graph's onnxruntime outputs
                    (out_<output>)
and refs.json maps each fixture to the fused operator counts of onnxruntime's transformers
optimizer (optimize_model(..., model_type="gpt2", opt_level=0), as Olive's
OrtTransformersOptimization runs it) and to the options given.

Run in the torch environment (onnxruntime's replace_mha_with_gqa imports torch):
    $TORCHPY tests/data/fusion_decoder/make_fixtures.py
"""

import collections
import json
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.transformers.optimizer import optimize_model

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
F, I64 = TensorProto.FLOAT, TensorProto.INT64
HIDDEN, HEADS, HEAD = 16, 4, 4
MAX_POS = 32
FUSED_OPS = ("RotaryEmbedding", "MultiHeadAttention", "GroupQueryAttention", "Attention",
             "SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization")


def i64(name, values):
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def f32(name, values):
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


def rope_caches(head=HEAD, max_pos=MAX_POS, base=10000.0):
    """cos/sin caches of shape (max_pos, head): the frequencies twice, as transformers builds them."""
    inv_freq = 1.0 / base ** (np.arange(0, head, 2, dtype=np.float32) / head)
    freqs = np.outer(np.arange(max_pos, dtype=np.float32), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out + "_node", **attrs))
        return out

    def const(self, base, array):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def const_node(self, base, array):
        """A Constant node (the exporters write the rotary caches so)."""
        name = self.name(base)
        self.nodes.append(helper.make_node("Constant", [], [name], name=name + "_node",
                                           value=numpy_helper.from_array(array, name + "_value")))
        return name

    def scalar_i64(self, v):
        return self.const("c", np.array([v], dtype=np.int64))


def rotate_half(b, x, divisor=2, split_axis=-1):
    """rotate_half(x) = Concat(-x[..., h:], x[..., :h]) with h = x.shape[-1] // divisor, as the
    TorchScript exporter writes it (the split computed from the shape)."""
    shape = b.op("Shape", [x])
    last = b.op("Gather", [shape, b.const("idx", np.array(3, dtype=np.int64))], axis=0)
    half = b.op("Div", [last, b.const("div", np.array(divisor, dtype=np.int64))])
    half_u = b.op("Unsqueeze", [half, b.scalar_i64(0)])
    zero, big = b.scalar_i64(0), b.scalar_i64(np.iinfo(np.int64).max)
    axes, steps = b.scalar_i64(split_axis), b.scalar_i64(1)
    x1 = b.op("Slice", [x, zero, half_u, axes, steps])
    half_u2 = b.op("Unsqueeze", [half, b.scalar_i64(0)])
    x2 = b.op("Slice", [x, half_u2, big, axes, steps])
    neg = b.op("Neg", [x2])
    return b.op("Concat", [neg, x1], axis=-1), neg


def seq_len(b, seq_source):
    """seq_source.shape[1] as a 1-element vector."""
    seq = b.op("Gather", [b.op("Shape", [seq_source]), b.const("idx", np.array(1, dtype=np.int64))], axis=0)
    return b.op("Unsqueeze", [seq, b.scalar_i64(0)])


def gathered_cache(b, cache, seq_u, position_ids, cache4d=False):
    """cache[:seq_len][position_ids].unsqueeze(1). cache4d: a (1, 1, max, head) cache sliced on
    axis 2 and squeezed twice (LLaMA-2 in transformers 4.3x)."""
    if cache4d:
        sliced = b.op("Slice", [cache, b.scalar_i64(0), seq_u, b.scalar_i64(2)])
        sliced = b.op("Squeeze", [b.op("Squeeze", [sliced, b.scalar_i64(1)]), b.scalar_i64(0)])
    else:
        sliced = b.op("Slice", [cache, b.scalar_i64(0), seq_u, b.scalar_i64(0)])
    g = b.op("Gather", [sliced, position_ids], axis=0)
    return b.op("Unsqueeze", [g, b.scalar_i64(1)])


def heads_of(b, x, w, dims=None, heads=HEADS, hidden=HIDDEN):
    """x (B, S, hidden) @ w -> (B, heads, S, hidden / heads). dims: the (batch, seq) values of x's shape
    when the target shape is built from them, as the TorchScript exporter writes it."""
    mm = b.op("MatMul", [x, w])
    head = hidden // heads
    if dims:
        shape = b.op("Concat", [b.op("Unsqueeze", [dims[0], b.scalar_i64(0)]),
                                b.op("Unsqueeze", [dims[1], b.scalar_i64(0)]), b.scalar_i64(heads),
                                b.scalar_i64(head)], axis=0)
    else:
        shape = b.const("shape", np.array([0, 0, heads, head], dtype=np.int64))
    r = b.op("Reshape", [mm, shape])
    return b.op("Transpose", [r], perm=[0, 2, 1, 3])


def static_rotate_half(b, x):
    """rotate_half(x) with the split point folded to a constant (static shapes)."""
    axes, steps = b.scalar_i64(-1), b.scalar_i64(1)
    x1 = b.op("Slice", [x, b.scalar_i64(0), b.scalar_i64(HEAD // 2), axes, steps])
    x2 = b.op("Slice", [x, b.scalar_i64(HEAD // 2), b.scalar_i64(HEAD), axes, steps])
    neg = b.op("Neg", [x2])
    return b.op("Concat", [neg, x1], axis=-1), neg


def rotary_model(divisor=2, expose_neg=False, split_axis=-1, static=False, shift_second_half=False, cache4d=False):
    """Q and K projections with rotary embeddings from cos/sin caches (LLaMA-2 export form).
    static: the split point a constant and the caches gathered whole (a form constant folding
    gives; onnxruntime's optimizer does not match it). shift_second_half: caches whose halves
    differ, which the fused op cannot express."""
    rng = np.random.default_rng(0)
    b = Builder()
    cos, sin = rope_caches()
    if shift_second_half:
        cos[:, HEAD // 2:] = np.roll(cos[:, HEAD // 2:], 1, axis=0)
    if cache4d:
        cos, sin = cos[None, None], sin[None, None]
    cos_c, sin_c = b.const_node("cos_cached", cos), b.const_node("sin_cached", sin)
    outs, extra = [], []
    for p in ("q", "k"):
        w = b.const("W" + p, (rng.standard_normal((HIDDEN, HIDDEN)) / 4).astype(np.float32))
        x = heads_of(b, "hidden", w)
        if static:
            cos_u = b.op("Unsqueeze", [b.op("Gather", [cos_c, "position_ids"], axis=0), b.scalar_i64(1)])
            sin_u = b.op("Unsqueeze", [b.op("Gather", [sin_c, "position_ids"], axis=0), b.scalar_i64(1)])
            rot, neg = static_rotate_half(b, x)
        else:
            seq_u = seq_len(b, "hidden")
            pos = "position_ids"
            if cache4d:  # position_ids.view(-1, seq_len), shared by cos and sin
                pos = b.op("Reshape", [pos, b.op("Concat", [b.scalar_i64(-1), seq_u], axis=0)])
            cos_u = gathered_cache(b, cos_c, seq_u, pos, cache4d)
            sin_u = gathered_cache(b, sin_c, seq_u, pos, cache4d)
            rot, neg = rotate_half(b, x, divisor, split_axis)
        y = b.op("Add", [b.op("Mul", [x, cos_u]), b.op("Mul", [rot, sin_u])])
        outs.append(y)
        extra.append(neg)
    b.nodes.append(helper.make_node("Identity", [outs[0]], ["q_rot"]))
    b.nodes.append(helper.make_node("Identity", [outs[1]], ["k_rot"]))
    outputs = [helper.make_tensor_value_info("q_rot", F, ["B", HEADS, "S", HEAD]),
               helper.make_tensor_value_info("k_rot", F, ["B", HEADS, "S", HEAD])]
    if expose_neg:
        b.nodes.append(helper.make_node("Identity", [extra[0]], ["q_neg_half"]))
        outputs.append(helper.make_tensor_value_info("q_neg_half", F, ["B", HEADS, "S", HEAD // 2]))
    g = helper.make_graph(b.nodes, "rotary",
                          [helper.make_tensor_value_info("hidden", F, ["B", "S", HIDDEN]),
                           helper.make_tensor_value_info("position_ids", I64, ["B", "S"])],
                          outputs, b.inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def rotary_feeds():
    rng = np.random.default_rng(1)
    pos = np.array([[0, 1, 2, 3, 4], [0, 0, 1, 2, 3]], dtype=np.int64)  # the second row left-padded
    return {"hidden": rng.standard_normal((2, 5, HIDDEN)).astype(np.float32), "position_ids": pos}


PAST = 3
MIN = -1e9  # the additive mask's fill


def causal_padding_mask(b, seq_u, past_len):
    """The additive (B, 1, S, T) mask of a LLaMA-2 export: padding from the 2-D attention_mask
    (1 - mask, filled with MIN where masked) plus the causal part (query i sees keys j <= i + P)."""
    m = b.op("Unsqueeze", [b.op("Unsqueeze", ["attention_mask", b.scalar_i64(1)]), b.scalar_i64(2)])
    one = b.scalar_i64(1)
    e = b.op("Expand", [m, b.op("Concat", [one, one, seq_u, one], axis=0)])
    inv = b.op("Sub", [b.const("one", np.array(1.0, dtype=np.float32)), b.op("Cast", [e], to=F)])
    pad = b.op("Where", [b.op("Cast", [inv], to=TensorProto.BOOL), b.const("min", np.array(MIN, dtype=np.float32)), inv])
    seq = b.op("Squeeze", [seq_u, b.scalar_i64(0)])
    total = b.op("Add", [seq, past_len])
    rows = b.op("Unsqueeze", [b.op("Add", [b.op("Range", [b.const("z", np.array(0, dtype=np.int64)), seq,
                                                          b.const("s", np.array(1, dtype=np.int64))]), past_len]),
                              b.scalar_i64(1)])
    cols = b.op("Range", [b.const("z", np.array(0, dtype=np.int64)), total, b.const("s", np.array(1, dtype=np.int64))])
    causal = b.op("Where", [b.op("LessOrEqual", [cols, rows]), b.const("zero", np.array(0.0, dtype=np.float32)),
                            b.const("min", np.array(MIN, dtype=np.float32))])
    return b.op("Add", [pad, causal])


def decoder_model(n_layers=1, heads=HEADS, hidden=HIDDEN, divisor=None, expose_probs=False, past=True):
    """LLaMA-2 decoder layers as Hugging Face exports them with past key/values: rotary Q and K
    from cos/sin caches, K and V concatenated after the past (the present outputs), scores
    divided by sqrt(head), the additive mask, softmax, output projection and residual Add.
    past=False: the first step, without past inputs (K and V are the present outputs)."""
    rng = np.random.default_rng(2)
    b = Builder()
    head = hidden // heads
    divisor = divisor or float(np.sqrt(head))
    cos, sin = rope_caches(head)
    cos_c, sin_c = b.const_node("cos_cached", cos), b.const_node("sin_cached", sin)
    seq_u = seq_len(b, "hidden")
    inputs = [helper.make_tensor_value_info("hidden", F, ["B", "S", hidden]),
              helper.make_tensor_value_info("position_ids", I64, ["B", "S"]),
              helper.make_tensor_value_info("attention_mask", I64, ["B", "T"])]
    outputs = []
    past_len = None
    mask = None
    x = "hidden"
    for layer in range(n_layers):
        pk, pv = f"past_key_values.{layer}.key", f"past_key_values.{layer}.value"
        if past:
            inputs += [helper.make_tensor_value_info(pk, F, ["B", heads, "P", head]),
                       helper.make_tensor_value_info(pv, F, ["B", heads, "P", head])]
        elif past_len is None:
            past_len = b.const("no_past", np.array(0, dtype=np.int64))
            mask = causal_padding_mask(b, seq_u, past_len)
        if past_len is None:
            past_len = b.op("Gather", [b.op("Shape", [pk]), b.const("idx", np.array(2, dtype=np.int64))], axis=0)
            mask = causal_padding_mask(b, seq_u, past_len)
        w = {p: b.const("W" + p, (rng.standard_normal((hidden, hidden)) / 4).astype(np.float32)) for p in "qkvo"}
        shape = b.op("Shape", [x])
        dims = [b.op("Gather", [shape, b.const("idx", np.array(i, dtype=np.int64))], axis=0) for i in (0, 1)]
        q, k, v = (heads_of(b, x, w[p], dims, heads, hidden) for p in "qkv")
        if past:
            cur = b.op("Gather", [b.op("Shape", [k]), b.const("idx", np.array(2, dtype=np.int64))], axis=0)
            total_u = b.op("Unsqueeze", [b.op("Add", [cur, past_len]), b.scalar_i64(0)])
        else:
            total_u = seq_u
        cos_u = gathered_cache(b, cos_c, total_u, "position_ids")
        sin_u = gathered_cache(b, sin_c, total_u, "position_ids")
        rot = []
        for t in (q, k):
            r, _ = rotate_half(b, t)
            rot.append(b.op("Add", [b.op("Mul", [t, cos_u]), b.op("Mul", [r, sin_u])]))
        present_k = b.op("Concat", [pk, rot[1]], axis=2) if past else rot[1]
        present_v = b.op("Concat", [pv, v], axis=2) if past else v
        kt = b.op("Transpose", [present_k], perm=[0, 1, 3, 2])
        scores = b.op("Div", [b.op("MatMul", [rot[0], kt]), b.const("sqrt_head", np.array(divisor, dtype=np.float32))])
        probs = b.op("Softmax", [b.op("Add", [scores, mask])], axis=-1)
        if expose_probs:
            b.nodes.append(helper.make_node("Identity", [probs], [f"attentions.{layer}"]))
            outputs.append(helper.make_tensor_value_info(f"attentions.{layer}", F, ["B", heads, "S", "T"]))
        ctx = b.op("Transpose", [b.op("MatMul", [probs, present_v])], perm=[0, 2, 1, 3])
        merged = b.op("Reshape", [ctx, b.op("Concat", [b.op("Unsqueeze", [dims[0], b.scalar_i64(0)]),
                                                       b.op("Unsqueeze", [dims[1], b.scalar_i64(0)]),
                                                       b.scalar_i64(hidden)], axis=0)])
        x = b.op("Add", [x, b.op("MatMul", [merged, w["o"]])])
        for src, name in ((present_k, f"present.{layer}.key"), (present_v, f"present.{layer}.value")):
            b.nodes.append(helper.make_node("Identity", [src], [name]))
            outputs.append(helper.make_tensor_value_info(name, F, ["B", heads, "T", head]))
    b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    outputs.insert(0, helper.make_tensor_value_info("last_hidden_state", F, ["B", "S", hidden]))
    g = helper.make_graph(b.nodes, "decoder", inputs, outputs, b.inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def decoder_feeds(n_layers=1, heads=HEADS, hidden=HIDDEN, S=5, past=True):
    """With past: no padding, the rows see their whole past (the form GroupQueryAttention takes
    too; its CPU kernel takes a batch with past key/values one token at a time). Without: the
    second row left-padded."""
    rng = np.random.default_rng(3)
    feeds = {"hidden": rng.standard_normal((2, S, hidden)).astype(np.float32),
             "position_ids": np.tile(np.arange(PAST, PAST + S, dtype=np.int64), (2, 1)),
             "attention_mask": np.ones((2, PAST + S), dtype=np.int64)}
    if not past:
        feeds["position_ids"] = np.array([np.arange(S), np.maximum(np.arange(S) - 1, 0)], dtype=np.int64)
        feeds["attention_mask"] = np.ones((2, S), dtype=np.int64)
        feeds["attention_mask"][1, 0] = 0
        return feeds
    for layer in range(n_layers):
        for kind in ("key", "value"):
            feeds[f"past_key_values.{layer}.{kind}"] = rng.standard_normal((2, heads, PAST, hidden // heads)).astype(
                np.float32)
    return feeds


def fixtures():
    """name -> (model, feeds, num_heads, options). use_gqa: onnxruntime's replace_mha_with_gqa
    after the optimizer, as Olive's OrtTransformersOptimization does (onnxruntime's CPU kernel
    needs a head size that is a multiple of 16 with rotary embeddings)."""
    return {
        "rotary_cache": (rotary_model(), rotary_feeds(), HEADS, {}),
        "rotary_cache4d": (rotary_model(cache4d=True), rotary_feeds(), HEADS, {}),
        "llama2_past": (decoder_model(2), decoder_feeds(2), HEADS, {}),
        "llama2_past_gqa": (decoder_model(2, heads=2, hidden=32), decoder_feeds(2, heads=2, hidden=32, S=1), 2,
                            {"use_gqa": True, "hidden_size": 32}),
    }


def without_reference():
    """name -> (model, feeds): graphs one flaw away from a fusion, and forms that are no flaw but
    that onnxruntime's optimizer does not handle: a constant split (rotary_static_split, not
    matched) and a first step without past (llama2_first_step: it fuses, then fails to sort the
    graph). They have no onnxruntime counts: its optimizer also fuses the wrong split, and then
    gives other outputs."""
    return {
        "llama2_first_step": (decoder_model(2, past=False), decoder_feeds(2, past=False)),
        "rotary_wrong_split": (rotary_model(divisor=4), rotary_feeds()),
        "rotary_neg_read_elsewhere": (rotary_model(expose_neg=True), rotary_feeds()),
        "rotary_halves_differ": (rotary_model(shift_second_half=True), rotary_feeds()),
        "rotary_static_split": (rotary_model(static=True), rotary_feeds()),
        "llama2_past_probs_read_elsewhere": (decoder_model(1, expose_probs=True), decoder_feeds(1)),
    }


def save_with_outputs(name, model, feeds):
    onnx.checker.check_model(model)
    path = os.path.join(HERE, name + ".onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(None, feeds)
    np.savez(os.path.join(HERE, name + ".npz"), **{f"in_{k}": v for k, v in feeds.items()},
             **{f"out_{o.name}": v for o, v in zip(sess.get_outputs(), outs)})
    return path


def main():
    from onnxruntime.transformers.convert_generation import replace_mha_with_gqa  # imports torch

    refs = {}
    for name, (model, feeds) in without_reference().items():
        save_with_outputs(name, model, feeds)
        refs[name] = {"no_reference": True, "nodes_before": len(model.graph.node)}
    for name, (model, feeds, heads, opts) in fixtures().items():
        path = save_with_outputs(name, model, feeds)
        hidden = opts.get("hidden_size", HIDDEN)
        opt = optimize_model(path, model_type="gpt2", num_heads=heads, hidden_size=hidden, opt_level=0)
        if opts.get("use_gqa"):
            opt = replace_mha_with_gqa(opt, "attention_mask")
            opt.prune_graph()
        counts = collections.Counter(n.op_type for n in opt.model.graph.node)
        refs[name] = {"model_type": "gpt2", "num_heads": heads, "hidden_size": hidden,
                      "options": {k: v for k, v in opts.items() if k != "hidden_size"},
                      "fused": {op: counts.get(op, 0) for op in FUSED_OPS},
                      "nodes_before": len(model.graph.node), "nodes_after": len(opt.model.graph.node)}
        print(name, {k: v for k, v in refs[name]["fused"].items() if v})
    refs["_versions"] = {"onnxruntime": ort.__version__, "onnx": onnx.__version__}
    with open(os.path.join(HERE, "refs.json"), "w") as f:
        json.dump(refs, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
