#!/usr/bin/env python3
"""Chats with a model folder written by `olive auto-opt --use_ort_genai` in ONNX Runtime GenAI:
asks one question with the model's chat template and streams the answer, then compares model
folders (size on disk, time and peak memory to optimize, tokens per second, and, with
--perplexity, the perplexity libolive's evaluator measures on a text).

usage: chat.py MODEL_DIR [--prompt TEXT] [--max_new_tokens N]
               [--compare LABEL=DIR[:STATS_JSON] ...] [--perplexity TEXT_FILE]

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


def perplexity(path, text_file, windows=16, window=512):
    """Olive's perplexity metric on the text, measured by libolive (olive_evaluate): the text's
    lines joined, cut into windows of `window` tokens (at most `windows` of them)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "bindings", "python"))
    os.environ.setdefault("LIBOLIVE_LIBRARY", os.path.join(root, "build", "lib", "libolive.so"))
    import libolive
    data = {"name": "text", "type": "HuggingfaceContainer",
            "load_dataset_config": {"data_name": "text", "data_files": text_file, "split": "train"},
            "pre_process_data_config": {"task": "text-generation", "model_name": path, "strategy": "join",
                                        "max_seq_len": window, "max_samples": windows, "add_special_tokens": False}}
    res = libolive.evaluate(path, {"metrics": [{"name": "ppl", "type": "accuracy", "data_config": data,
                                                "sub_types": [{"name": "perplexity"}]}]})
    return res["ppl-perplexity"]["value"]


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
    ap.add_argument("--perplexity", metavar="TEXT_FILE", help="add each model's perplexity on this text")
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
        row = (label, human_bytes(folder_size(path)),
               f"{stats['seconds']:.1f} s" if "seconds" in stats else "-",
               human_bytes(stats["peak_rss_bytes"]) if "peak_rss_bytes" in stats else "-",
               f"{tps:.1f}")
        if args.perplexity:
            row += (f"{perplexity(path, args.perplexity):.2f}",)
        rows.append(row)
    header = ("model", "size on disk", "time to optimize", "peak memory", "tokens/s (ORT GenAI)")
    if args.perplexity:
        header += (f"perplexity ({os.path.basename(args.perplexity)})",)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
