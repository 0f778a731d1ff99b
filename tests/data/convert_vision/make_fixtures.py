#!/usr/bin/env python3
"""Makes the vision encoder converter's fixtures: tiny random ViT and CLIP checkpoints
(2 layers, hidden 32, 4 heads, 16x16 images in 4x4 patches, text vocabulary 100: ViTModel,
ViTForImageClassification, CLIPModel, CLIPTextModel, CLIPVisionModel and the CLIP towers
WithProjection) saved as
Hugging Face folders with safetensors, with transformers' outputs for two fixed batches in
reference.npz (inputs under their graph input names, outputs under the names optimum's ONNX
exports give them, each suffixed _0 / _1 by batch). Text batches are padded on the right, as
CLIP's tokenizer pads.

Each model is also exported with torch.onnx (TorchScript exporter, opset 17, eager attention)
to exports/<name>.onnx, the unfused graph on which the tests run onnxruntime's transformers
optimizer (model_type vit / clip) to learn which fused operators it writes. transformers 5
scales ViT's attention scores by a Mul after the MatMul, where transformers 4 divided them by
sqrt(head_size); onnxruntime's ViT attention pattern knows only the division, so the ViT exports
are given that form back (the same values: checked against transformers below).

Run with the torch environment: `$TORCHPY make_fixtures.py`."""
import pathlib
import shutil
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
import torch
import transformers as tf

warnings.filterwarnings('ignore')
HERE = pathlib.Path(__file__).resolve().parent
HIDDEN, HEADS, LAYERS, INTER = 32, 4, 2, 64
VISION = dict(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS, intermediate_size=INTER,
              image_size=16, patch_size=4, num_channels=3)


def images():
    rng = np.random.default_rng(11)
    return [rng.standard_normal((b, 3, 16, 16)).astype(np.float32) for b in (2, 3)]


def texts(eos_id, pad_id):
    """Rows of different lengths, each ending in the end-of-text token, padded on the right."""
    rng = np.random.default_rng(5)
    out = []
    for seq, lengths in ((7, (7, 4)), (5, (5, 2, 3))):
        ids = np.full((len(lengths), seq), pad_id, dtype=np.int64)
        mask = np.zeros((len(lengths), seq), dtype=np.int64)
        for b, n in enumerate(lengths):
            ids[b, :n - 1] = rng.integers(3, 90, size=n - 1)
            ids[b, n - 1] = eos_id
            mask[b, :n] = 1
        out.append((ids, mask))
    return out


def randomize(model):
    """Larger random values than HF's initialization, so that every weight matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('logit_scale'):
                p.fill_(float(np.log(3.0)))
                continue
            base = 1.0 if ('norm' in name or 'layrnorm' in name) and name.endswith('weight') else 0.0
            p.copy_(torch.randn_like(p) * 0.2 + base)
    return model


class Wrap(torch.nn.Module):
    def __init__(self, model, inputs, outputs):
        super().__init__()
        self.model, self.inputs, self.outputs = model, inputs, outputs

    def forward(self, *args):
        out = self.model(**dict(zip(self.inputs, args)))
        return tuple(getattr(out, n) for n in self.outputs)


def divide_scores(m):
    """Softmax(MatMul(q, k) * c) becomes Softmax(MatMul(q, k) / (1 / c)), as transformers 4
    exported ViT's attention."""
    made = {n.output[0]: n for n in m.graph.node}
    for n in m.graph.node:
        mul = made.get(n.input[0]) if n.op_type == 'Softmax' else None
        if mul is None or mul.op_type != 'Mul' or made[mul.input[0]].op_type != 'MatMul':
            continue
        const = made[mul.input[1]]
        value = onnx.numpy_helper.to_array(const.attribute[0].t)
        const.attribute[0].t.CopyFrom(onnx.numpy_helper.from_array((1 / value).astype(value.dtype)))
        mul.op_type = 'Div'


def export(name, model, feeds, outputs, ref):
    folder = HERE / 'exports'
    folder.mkdir(exist_ok=True)
    path = folder / f'{name}.onnx'
    names = list(feeds)
    axes = {n: ({0: 'batch', 1: 'sequence'} if feeds[n].ndim == 2 else {0: 'batch'}) for n in names}
    with torch.no_grad():
        torch.onnx.export(Wrap(model, names, outputs).eval(), tuple(torch.from_numpy(feeds[n]) for n in names),
                          str(path), input_names=names, output_names=outputs, dynamic_axes=axes, opset_version=17,
                          dynamo=False, do_constant_folding=True)
    m = onnx.load(str(path))
    for n in m.graph.node:  # node names and stack traces are optional and most of the size
        n.doc_string = ''
        n.name = ''
    if name.startswith('vit'):
        divide_scores(m)
    onnx.save(m, str(path))
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    for o, value in zip(outputs, sess.run(outputs, {n: feeds[n] for n in names})):
        np.testing.assert_allclose(value, ref[f'{o}_0'], atol=1e-5)


def save(name, model, batches, outputs):
    randomize(model).eval()
    folder = HERE / name
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder, safe_serialization=True)
    ref = {}
    for i, feeds in enumerate(batches):
        with torch.no_grad():
            res = model(**{k: torch.from_numpy(v) for k, v in feeds.items()})
        for k, v in feeds.items():
            ref[f'{k}_{i}'] = v
        for o in outputs:
            ref[f'{o}_{i}'] = getattr(res, o).numpy()
    np.savez(folder / 'reference.npz', **ref)
    export(name, model, batches[0], outputs, ref)
    print(name, sorted(ref))


def main():
    torch.manual_seed(1234)
    pix = [{'pixel_values': p} for p in images()]
    vit = tf.ViTConfig(**VISION, hidden_act='gelu', attn_implementation='eager')
    save('vit_model', tf.ViTModel(vit), pix, ['last_hidden_state', 'pooler_output'])
    vit_cls = tf.ViTConfig(**VISION, hidden_act='gelu', num_labels=3, attn_implementation='eager')
    save('vit_imgcls', tf.ViTForImageClassification(vit_cls), pix, ['logits'])

    text = dict(vocab_size=100, hidden_size=HIDDEN, intermediate_size=INTER, num_hidden_layers=LAYERS,
                num_attention_heads=HEADS, max_position_embeddings=16, hidden_act='quick_gelu', pad_token_id=1,
                bos_token_id=0)
    # eos_token_id 2 selects transformers' legacy pooling (the largest token id), others the
    # first end-of-text token.
    txt = [{'input_ids': i, 'attention_mask': m} for i, m in texts(99, 1)]
    legacy = [{'input_ids': i, 'attention_mask': m} for i, m in texts(2, 1)]
    for rows in legacy:  # the legacy rule needs the end-of-text token to be the largest id
        rows['input_ids'][rows['input_ids'] > 2] %= 2
    clip = tf.CLIPConfig(text_config=dict(text, eos_token_id=99), vision_config=dict(VISION, hidden_act='quick_gelu'),
                         projection_dim=24, attn_implementation='eager')
    both = [dict(input_ids=t['input_ids'], pixel_values=p['pixel_values'], attention_mask=t['attention_mask'])
            for t, p in zip(txt, pix)]
    save('clip_model', tf.CLIPModel(clip), both, ['logits_per_image', 'logits_per_text', 'text_embeds', 'image_embeds'])
    save('clip_text', tf.CLIPTextModel(tf.CLIPTextConfig(**text, eos_token_id=2, attn_implementation='eager')),
         legacy, ['last_hidden_state', 'pooler_output'])
    save('clip_vision', tf.CLIPVisionModel(tf.CLIPVisionConfig(**VISION, hidden_act='gelu', attn_implementation='eager')),
         pix, ['last_hidden_state', 'pooler_output'])
    save('clip_text_projection', tf.CLIPTextModelWithProjection(tf.CLIPTextConfig(
        **text, eos_token_id=99, projection_dim=24, attn_implementation='eager')), txt, ['text_embeds', 'last_hidden_state'])
    save('clip_vision_projection', tf.CLIPVisionModelWithProjection(tf.CLIPVisionConfig(
        **VISION, projection_dim=24, attn_implementation='eager')), pix, ['image_embeds', 'last_hidden_state'])


if __name__ == '__main__':
    main()
