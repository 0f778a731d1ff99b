#!/usr/bin/env python3
"""Chats with a model folder written by `olive auto-opt --use_ort_genai` in ONNX Runtime GenAI:
asks one question with the model's chat template and streams the answer, then compares model
folders (size on disk, time and peak memory to optimize, tokens per second).

usage: chat.py MODEL_DIR [--prompt TEXT] [--max_new_tokens N]
               [--compare LABEL=DIR[:STATS_JSON] ...]

STATS_JSON is what measure.py wrote for the command that made DIR ({"seconds", "peak_rss_bytes"}).
"""
import argparse
import json
import os
import sys
import time

import onnxruntime_genai as og


def folder_size(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
               if os.path.isfile(os.path.join(path, f)))


def prompt_tokens(model, tokenizer, question):
    messages = json.dumps([{"role": "user", "content": question}])
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    return tokenizer.encode(text)


def generate(model, tokenizer, question, max_new_tokens, on_text=None):
    """Greedy generation; returns (new tokens, seconds spent producing them after the first)."""
    ids = prompt_tokens(model, tokenizer, question)
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + max_new_tokens, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(ids)
    stream = tokenizer.create_stream()
    count, first = 0, None
    while not generator.is_done():
        generator.generate_next_token()
        count += 1
        if first is None:
            first = time.perf_counter()  # the first token also pays for the prompt
        if on_text:
            on_text(stream.decode(generator.get_next_tokens()[0]))
    elapsed = time.perf_counter() - first if first else 0.0
    return count, elapsed


def tokens_per_second(path, question, max_new_tokens):
    model = og.Model(path)
    tokenizer = og.Tokenizer(model)
    count, elapsed = generate(model, tokenizer, question, max_new_tokens)
    return (count - 1) / elapsed if count > 1 and elapsed > 0 else float("nan")


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--prompt", default="What is machine learning?")
    ap.add_argument("--max_new_tokens", type=int, default=128)
    ap.add_argument("--compare", action="append", default=[], metavar="LABEL=DIR[:STATS_JSON]")
    args = ap.parse_args()

    model = og.Model(args.model_dir)
    tokenizer = og.Tokenizer(model)
    print(f"> {args.prompt}")
    generate(model, tokenizer, args.prompt, args.max_new_tokens,
             on_text=lambda t: (sys.stdout.write(t), sys.stdout.flush()))
    print("\n")
    del model, tokenizer

    if not args.compare:
        return 0
    rows = []
    for item in args.compare:
        label, _, rest = item.partition("=")
        path, _, stats_path = rest.partition(":")
        stats = json.load(open(stats_path)) if stats_path else {}
        tps = tokens_per_second(path, args.prompt, args.max_new_tokens)
        rows.append((label, human_bytes(folder_size(path)),
                     f"{stats['seconds']:.1f} s" if "seconds" in stats else "-",
                     human_bytes(stats["peak_rss_bytes"]) if "peak_rss_bytes" in stats else "-",
                     f"{tps:.1f}"))
    header = ("model", "size on disk", "time to optimize", "peak memory", "tokens/s (ORT GenAI)")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
