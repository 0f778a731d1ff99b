"""Generates the fusion pass fixtures: tiny random Hugging Face models (2 layers, hidden 16)
exported to ONNX, with the references the tests compare against.

For each fixture <name>:
  <name>.onnx       the unfused export (TorchScript exporter at opset 14 / 17, or the dynamo
                    exporter at opset 18 where it works)
  <name>.npz        input feeds (in_<input>) and the unfused model's onnxruntime outputs
                    (out_<output>)
and refs.json maps each fixture to the parameters used (model_type, num_heads, hidden_size)
and the fused operator counts that onnxruntime's transformers optimizer gives
(optimize_model(..., opt_level=0): its Python fusions only, as Olive's
OrtTransformersOptimization runs them without the onnxruntime graph optimizer).

Run in the torch environment:  $TORCHPY tests/data/fusion/make_fixtures.py
"""

import collections
import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from onnxruntime.transformers.fusion_options import FusionOptions
from onnxruntime.transformers.optimizer import optimize_model

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
HIDDEN, HEADS, LAYERS, VOCAB = 16, 4, 2, 64
FUSED_OPS = ("EmbedLayerNormalization", "Attention", "MultiHeadAttention", "GroupQueryAttention", "Gelu",
             "FastGelu", "BiasGelu", "QuickGelu", "LayerNormalization", "SimplifiedLayerNormalization",
             "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "RotaryEmbedding")


class Wrap(torch.nn.Module):
    """Calls the model with keyword arguments and returns chosen outputs as a tuple."""

    def __init__(self, model, input_names, output_names):
        super().__init__()
        self.model, self.input_names, self.output_names = model, input_names, output_names

    def forward(self, *args):
        kw = dict(zip(self.input_names, args))
        out = self.model(**kw)
        return tuple(getattr(out, n) for n in self.output_names)


def text_inputs(with_types=True, pad=True):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, VOCAB, (2, 8), generator=g)
    mask = torch.ones(2, 8, dtype=torch.int64)
    if pad:
        mask[1, 6:] = 0  # right padding on the second row
    feeds = {"input_ids": ids, "attention_mask": mask}
    if with_types:
        feeds["token_type_ids"] = torch.zeros(2, 8, dtype=torch.int64)
    return feeds


def bert_like(cls, cfg_cls, attn="eager", **extra):
    cfg = cfg_cls(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                  intermediate_size=2 * HIDDEN, max_position_embeddings=32, attn_implementation=attn, **extra)
    return cls(cfg)


def make_models():
    """name -> (builder, feeds builder, outputs, ort model_type)."""
    T = transformers
    return {
        "bert": (lambda: bert_like(T.BertModel, T.BertConfig, type_vocab_size=2),
                 lambda: text_inputs(), ["last_hidden_state"], "bert"),
        # transformers' default attention (scaled_dot_product_attention), exported decomposed
        "bert_sdpa": (lambda: bert_like(T.BertModel, T.BertConfig, attn="sdpa", type_vocab_size=2),
                      lambda: text_inputs(), ["last_hidden_state"], "bert"),
        "distilbert_sdpa": (lambda: T.DistilBertModel(T.DistilBertConfig(
            vocab_size=VOCAB, dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=2 * HIDDEN,
            max_position_embeddings=32, attn_implementation="sdpa")),
            lambda: text_inputs(with_types=False), ["last_hidden_state"], "bert"),
        "roberta": (lambda: bert_like(T.RobertaModel, T.RobertaConfig, type_vocab_size=1, pad_token_id=1),
                    lambda: text_inputs(with_types=False), ["last_hidden_state"], "bert"),
        "distilbert": (lambda: T.DistilBertModel(T.DistilBertConfig(
            vocab_size=VOCAB, dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=2 * HIDDEN,
            max_position_embeddings=32, attn_implementation="eager")),
            lambda: text_inputs(with_types=False), ["last_hidden_state"], "bert"),
        "vit": (lambda: T.ViTModel(T.ViTConfig(
            hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS, intermediate_size=2 * HIDDEN,
            image_size=16, patch_size=4, num_channels=3, attn_implementation="eager"), add_pooling_layer=False),
            lambda: {"pixel_values": torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))},
            ["last_hidden_state"], "vit"),
        "gpt2": (lambda: T.GPT2Model(T.GPT2Config(
            vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_positions=32, use_cache=False,
            attn_implementation="eager")),
            lambda: text_inputs(with_types=False, pad=False), ["last_hidden_state"], "gpt2"),
        "llama": (lambda: T.LlamaForCausalLM(T.LlamaConfig(
            vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
            num_key_value_heads=2, intermediate_size=2 * HIDDEN, max_position_embeddings=32, use_cache=False,
            attn_implementation="eager")),
            lambda: text_inputs(with_types=False, pad=False), ["logits"], "gpt2"),
        "qwen2": (lambda: T.Qwen2ForCausalLM(T.Qwen2Config(
            vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
            num_key_value_heads=2, intermediate_size=2 * HIDDEN, max_position_embeddings=32, use_cache=False,
            attn_implementation="eager")),
            lambda: text_inputs(with_types=False, pad=False), ["logits"], "gpt2"),
    }


def export(model, feeds, outputs, path, opset, dynamo):
    names = list(feeds)
    wrap = Wrap(model, names, outputs).eval()
    args = tuple(feeds[n] for n in names)
    axes = {n: ({0: "batch", 1: "seq"} if feeds[n].dim() == 2 else {0: "batch"}) for n in names}
    if dynamo:
        dims = {n: ({0: torch.export.Dim("batch", max=64), 1: torch.export.Dim("seq", max=64)}
                    if feeds[n].dim() == 2 else {0: torch.export.Dim("batch", max=64)}) for n in names}
        prog = torch.onnx.export(wrap, args, dynamo=True, opset_version=opset, input_names=names,
                                 output_names=outputs, dynamic_shapes={"args": tuple(dims[n] for n in names)})
        prog.optimize()
        prog.save(path, external_data=False)
    else:
        torch.onnx.export(wrap, args, path, input_names=names, output_names=outputs, dynamic_axes=axes,
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    # One self-contained file (the dynamo exporter may leave external data otherwise), without
    # the exporters' per-node stack traces and node names (optional in ONNX), which would be
    # most of its size.
    m = onnx.load(path)
    for n in m.graph.node:
        n.doc_string = ""
        n.name = ""
        del n.metadata_props[:]
    onnx.save(m, path, save_as_external_data=False)


def main(only=None):
    refs = {}
    ref_path = os.path.join(HERE, "refs.json")
    if only and os.path.exists(ref_path):
        with open(ref_path) as f:
            refs = json.load(f)
    for name, (build, feeds_of, outputs, model_type) in make_models().items():
        torch.manual_seed(0)
        model = build().eval()
        feeds = feeds_of()
        exports = ((17, False),) if name.endswith("_sdpa") else ((14, False), (17, False), (18, True), (20, True))
        for opset, dynamo in exports:
            fx = f"{name}_op{opset}{'_dynamo' if dynamo else ''}"
            if only and fx not in only:
                continue
            path = os.path.join(HERE, fx + ".onnx")
            try:
                with torch.no_grad():
                    export(model, feeds, outputs, path, opset, dynamo)
            except Exception as e:  # the dynamo exporter does not handle every model
                print(f"{fx}: export failed: {type(e).__name__}: {str(e)[:200]}")
                for p in (path, path + ".data"):
                    if os.path.exists(p):
                        os.remove(p)
                continue
            m = onnx.load(path)
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            in_names = [i.name for i in sess.get_inputs()]
            np_feeds = {n: feeds[n].numpy() for n in in_names}
            outs = sess.run(None, np_feeds)
            with torch.no_grad():
                ref = Wrap(model, list(feeds), outputs)(*feeds.values())
            for o, r in zip(outs, ref):
                np.testing.assert_allclose(o, r.numpy(), rtol=1e-3, atol=1e-4)
            np.savez(os.path.join(HERE, fx + ".npz"), **{f"in_{k}": v for k, v in np_feeds.items()},
                     **{f"out_{o.name}": v for o, v in zip(sess.get_outputs(), outs)})
            try:
                opt = optimize_model(path, model_type=model_type, num_heads=HEADS, hidden_size=HIDDEN, opt_level=0)
            except Exception as e:  # onnxruntime's optimizer fails on some exports: no reference counts
                print(f"{fx}: onnxruntime's optimizer failed: {type(e).__name__}: {e}")
                refs[fx] = {"model_type": model_type, "num_heads": HEADS, "hidden_size": HIDDEN, "opset": opset,
                            "exporter": "dynamo" if dynamo else "torchscript", "fused": None,
                            "nodes_before": len(m.graph.node)}
                continue
            counts = collections.Counter(n.op_type for n in opt.model.graph.node)
            refs[fx] = {
                "model_type": model_type, "num_heads": HEADS, "hidden_size": HIDDEN, "opset": opset,
                "exporter": "dynamo" if dynamo else "torchscript",
                "fused": {op: counts.get(op, 0) for op in FUSED_OPS},
                "nodes_before": len(m.graph.node), "nodes_after": len(opt.model.graph.node),
            }
            if model_type == "bert":
                # the same with FusionOptions.use_multi_head_attention (the pass's option of that name)
                options = FusionOptions(model_type)
                options.use_multi_head_attention = True
                mha = optimize_model(path, model_type=model_type, num_heads=HEADS, hidden_size=HIDDEN, opt_level=0,
                                     optimization_options=options)
                counts = collections.Counter(n.op_type for n in mha.model.graph.node)
                refs[fx]["fused_mha"] = {op: counts.get(op, 0) for op in FUSED_OPS}
            print(fx, os.path.getsize(path), {k: v for k, v in refs[fx]["fused"].items() if v})
    refs["_versions"] = {"onnxruntime": ort.__version__, "onnx": onnx.__version__, "torch": torch.__version__,
                         "transformers": transformers.__version__}
    with open(ref_path, "w") as f:
        json.dump(refs, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(set(sys.argv[1:]) or None)
