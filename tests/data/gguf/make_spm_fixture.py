#!/usr/bin/env python3
"""Makes tiny_spm.gguf (and tiny_spm_gemma2.gguf, tiny_spm_phi3.gguf: the same vocabulary under
the gemma2 and phi3 architectures), a minimal llama GGUF whose tokenizer is SentencePiece-style
(tokenizer.ggml.model "llama": tokens with scores, byte tokens <0x00>..<0xFF>, no merges), and
records in spm_tokenizer_reference.json the merges that transformers' GGUF tokenizer conversion
derives from the vocabulary and scores, and the ids it gives for a few strings. tests/integration/test_gguf.py checks that the tokenizer.json libolive
rebuilds from the same file gives the same ids.

Run with the torch environment:  $TORCHPY tests/data/gguf/make_spm_fixture.py
"""
import json
import pathlib

import numpy as np
from tiny_gguf import finish, tiny_writer
from transformers import AutoTokenizer

HERE = pathlib.Path(__file__).resolve().parent

# Pieces best-first (higher score = merged earlier), as a SentencePiece BPE model lists them.
PIECES = ["\u2581t", "he", "\u2581a", "in", "\u2581the", "er", "on", "\u2581h", "ll", "\u2581w", "or",
          "ld", "el", "\u2581he", "llo", "\u2581hel", "\u2581hello", "\u2581wor", "\u2581world", "an",
          "\u2581an", "\u2581and", "at", "\u2581c", "\u2581ca", "\u2581cat", "es", "\u2581s", "\u2581i",
          "\u2581in", "it", "\u2581it", "\u2581\u2581", "\u2581\u2581\u2581\u2581", "is", "\u2581is",
          "\u2581o", "\u2581of", "  ", "\t\t"]
CHARS = list("\u2581etaoinshrdlucmwfgypbvkjxqzHWT.,!?'0123456789")
STRINGS = ["hello world", "Hello World", " the cat is in the hat", "and    spaces", "caf\u00e9 na\u00efve",
           "tab\tnew\nline", "x", "", "emoji \U0001F600!", "<s> the </s>", "the2024 cats, isn't it?"]


def write_gguf(path, arch):
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + PIECES + CHARS
    types = [2, 3, 3] + [6] * 256 + [1] * (len(PIECES) + len(CHARS))
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(len(PIECES) + len(CHARS))]
    w = tiny_writer(path, arch)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    rng = np.random.default_rng(0)
    finish(w, rng.standard_normal((len(tokens), 8)).astype(np.float16))


def main():
    files = {}
    # transformers builds a different tokenizer per architecture from the same kind of vocabulary
    for name, arch in (("tiny_spm.gguf", "llama"), ("tiny_spm_gemma2.gguf", "gemma2"), ("tiny_spm_phi3.gguf", "phi3")):
        write_gguf(HERE / name, arch)
        tok = AutoTokenizer.from_pretrained(str(HERE), gguf_file=name)
        cases = [{"text": s, "ids": tok(s)["input_ids"]} for s in STRINGS]
        merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
        files[name] = {"arch": arch, "merges": [m.split(" ") if isinstance(m, str) else m for m in merges],
                       "cases": cases}
        for c in cases:
            print(name, repr(c["text"]), c["ids"])
    out = {"made_by": "make_spm_fixture.py (transformers GGUF tokenizer conversion)", "files": files}
    (HERE / "spm_tokenizer_reference.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
