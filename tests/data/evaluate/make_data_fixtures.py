"""Evaluation data fixtures and the references Olive itself computes from them.

Writes beside this script:
  wp_tokenizer/        a WordPiece (BERT) tokenizer of 100 tokens, for the tiny bert_seqcls
                       checkpoint in tests/data/convert_encoder (its vocabulary has 100 ids)
  classify.jsonl/.csv  sentences (and second sentences) with a label column (3 classes)
  corpus.txt           English lines for text generation (blank lines included)
  data_refs.json       what Olive's own pre-processing (olive-ai 0.13.0 with transformers and
                       datasets: huggingface_pre_process, text_generation_huggingface_pre_process)
                       makes of them: input ids, attention masks, token type ids and labels

Run in the fixture environment with olive-ai installed without its optional dependencies:
  pip install --no-deps olive-ai==0.13.0 && pip install datasets requests optuna questionary \
      opentelemetry-sdk onnxscript
The tests only read the committed outputs.
"""
import csv
import json
import pathlib

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, decoders

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LLAMA_TOK = ROOT / "tests/data/convert/llama"

WORDS = ["the", "a", "is", "was", "cat", "dog", "good", "bad", "movie", "film", "not", "very", "it", "this", "and",
         "of", "to", "in", "i", "you", "fun", "great", "boring", "plot", "story", "love", "hate", "really", "quite",
         "so", "but", "with", "too", "long", "short", "actor", "music", "end", "best", "worst", "ok", "liked"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = [".", ",", "!", "?", "'"]


def make_wordpiece():
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = SPECIAL + PUNCT + WORDS + letters
    vocab += ["##" + c for c in "aeioustrnldcmpgyhbkfwv"][: 100 - len(vocab)]
    assert len(vocab) == 100, len(vocab)
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.decoder = decoders.WordPiece()
    out = HERE / "wp_tokenizer"
    out.mkdir(exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 24, "pad_token": "[PAD]",
        "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}, indent=1) + "\n")


def make_data():
    rng = np.random.default_rng(7)
    rows = []
    for i in range(23):
        n = int(rng.integers(2, 14))
        words = [WORDS[int(k)] for k in rng.integers(0, len(WORDS), n)]
        s2 = " ".join(WORDS[int(k)] for k in rng.integers(0, len(WORDS), int(rng.integers(1, 6))))
        text = " ".join(words) + rng.choice([".", "!", "?", ""])
        rows.append({"sentence": text.capitalize(), "sentence2": s2, "label": int(rng.integers(0, 3))})
    rows[3]["sentence"] += " Zebra-like x-ray quokka"  # unknown pieces
    with open(HERE / "classify.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    with open(HERE / "classify.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["sentence", "sentence2", "label"])
        w.writeheader()
        w.writerows(rows)
    lines = ["The quick brown fox jumps over the lazy dog.", "", "A journey of a thousand miles begins with one step.",
             "To be, or not to be: that is the question.", "All that glitters is not gold; all who wander are not lost.",
             "", "It was the best of times, it was the worst of times.", "Call me Ishmael.",
             "In the beginning the Universe was created.", "This has made a lot of people very angry.",
             "Space is big. Really big.", "So long, and thanks for all the fish!", "Don't panic.",
             "The answer is forty-two.", "Time is an illusion; lunchtime doubly so."]
    (HERE / "corpus.txt").write_text("\n".join(lines) + "\n")


def tensors(ds):
    out = {"input_ids": [], "attention_mask": [], "labels": []}
    if "token_type_ids" in ds[0][0]:
        out["token_type_ids"] = []
    for i in range(len(ds)):
        data, label = ds[i]
        for k in out:
            if k == "labels":
                continue
            out[k].append(data[k].tolist() if k in data else None)
        out["labels"].append(label.tolist() if hasattr(label, "tolist") else label)
    return out


def main():
    make_wordpiece()
    make_data()
    from datasets import load_dataset
    from olive.data.component.pre_process_data import (huggingface_pre_process,
                                                        text_generation_huggingface_pre_process)

    refs = {"olive": __import__("olive").__version__, "classification": [], "text_generation": []}
    cls_cases = [
        ({"input_cols": ["sentence"], "label_col": "label"}, "classify.jsonl", "json"),
        ({"input_cols": ["sentence", "sentence2"], "label_col": "label", "max_length": 12}, "classify.jsonl", "json"),
        ({"input_cols": ["sentence"], "label_col": "label", "max_samples": 5, "padding": "max_length",
          "max_length": 16}, "classify.csv", "csv"),
        ({"input_cols": ["sentence"], "label_col": "label", "padding": False, "max_length": 8}, "classify.jsonl", "json"),
    ]
    for params, file, fmt in cls_cases:
        ds = load_dataset(fmt, data_files=str(HERE / file), split="train")
        out = huggingface_pre_process(ds, model_name=str(HERE / "wp_tokenizer"), **params)
        refs["classification"].append({"file": file, "format": fmt, "params": params, "expected": tensors(out)})

    tg_cases = [
        {"strategy": "join", "max_seq_len": 16, "add_special_tokens": True},
        {"strategy": "join", "max_seq_len": 20, "add_special_tokens": False, "joiner": " ", "max_samples": 6},
        {"strategy": "join-sliding-window", "max_seq_len": 24, "stride": 8},
        {"strategy": "join", "max_seq_len": 16, "processing_batch_size": 3},
        {"strategy": "line-by-line", "max_seq_len": 12, "add_special_tokens": False},
        {"strategy": "line-by-line", "max_seq_len": 10, "padding_side": "left", "max_samples": 4},
    ]
    for params in tg_cases:
        ds = load_dataset("text", data_files=str(HERE / "corpus.txt"), split="train")
        out = text_generation_huggingface_pre_process(ds, model_name=str(LLAMA_TOK), **params)
        refs["text_generation"].append({"params": params, "expected": tensors(out)})
    (HERE / "data_refs.json").write_text(json.dumps(refs) + "\n")
    print("wrote", HERE / "data_refs.json")


if __name__ == "__main__":
    main()
