#!/usr/bin/env python3
"""Makes tiny_bpe_{qwen2,llama3,tekken,gpt4o}.gguf: minimal GGUFs with a byte-level BPE
tokenizer (tokenizer.ggml.model "gpt2") whose tokenizer.ggml.pre is "qwen2", "llama-bpe",
"tekken" or "gpt-4o",
with control tokens, a user-defined token, a token stored with a real space (which the
vocabulary must respell in the byte alphabet) and a "control" token that is really text.
Records in bpe_tokenizer_reference.json the ids transformers' GGUF tokenizer conversion gives
(for llama-bpe with Llama 3's ignore_merges set, see below), and the pieces its pre-tokenizer
splits each string into.

Run with the torch environment:  $TORCHPY tests/data/gguf/make_bpe_fixture.py
"""
import json
import pathlib

import numpy as np
from tiny_gguf import finish, tiny_writer
from transformers import AutoTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

HERE = pathlib.Path(__file__).resolve().parent
MERGES = ["\u0120 t", "h e", "\u0120t he", "\u0120 w", "o r", "\u0120w or", "l d", "\u0120wor ld", "i n",
          "\u0120 in", "1 2", "\u010a \u010a", "\u0120 \u0120", "\u0120\u0120 \u0120\u0120", "e r",
          "\u0120 h", "\u0120h e", "l l", "\u0120he ll", "o \u0120"]
STRINGS = ["the world in 1234", " the\n\nworld", "hello    world", "<|im_start|>user\nhi<|im_end|>",
           "<think>the</think>", "y x x", "caf\u00e9 \U0001F600", "THE WORLD's end", "a<bad ctrl>b", "",
           "HelloWorld CamelCase path/to/file 123456789", "I'M here, you're THERE"]


def write(path, pre):
    alphabet = list(bytes_to_unicode().values())
    merged = []
    for m in MERGES:
        a, b = m.split(" ")
        if a + b not in alphabet + merged:
            merged.append(a + b)
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + alphabet + merged + [" x", "<think>", "</think>", "<bad ctrl>"]
    types = [3, 3, 3] + [1] * (len(alphabet) + len(merged)) + [1, 4, 4, 3]
    w = tiny_writer(path, "qwen2")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    w.add_bos_token_id(0)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    finish(w, np.zeros((len(tokens), 8), dtype=np.float16))


def main():
    files = {}
    for name, pre in (("tiny_bpe_qwen2.gguf", "qwen2"), ("tiny_bpe_llama3.gguf", "llama-bpe"),
                      ("tiny_bpe_tekken.gguf", "tekken"), ("tiny_bpe_gpt4o.gguf", "gpt-4o")):
        write(HERE / name, pre)
        tok = AutoTokenizer.from_pretrained(str(HERE), gguf_file=name)
        if pre == "llama-bpe":
            # Llama 3's own tokenizer.json (and llama.cpp for this pre-tokenizer) takes a word that
            # is a whole vocabulary entry as one token without merging ("ignore_merges");
            # transformers' GGUF conversion leaves that flag off, so it is set here.
            tok.backend_tokenizer.model.ignore_merges = True
        split = tok.backend_tokenizer.pre_tokenizer.pre_tokenize_str
        files[name] = {"pre": pre, "cases": [{"text": s, "ids": tok(s)["input_ids"],
                                              "pieces": [piece for piece, _ in split(s)]} for s in STRINGS]}
        for c in files[name]["cases"]:
            print(name, repr(c["text"]), c["ids"])
    out = {"made_by": "make_bpe_fixture.py (transformers GGUF tokenizer conversion)", "files": files}
    (HERE / "bpe_tokenizer_reference.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
