#!/usr/bin/env python3
"""Whisper checkpoint -> ONNX Runtime GenAI model: libolive's `convert` pass (the olive CLI)
against onnxruntime-genai's model builder, on the same input in the same run.

Generates (once, cached under bench/out/) a Hugging Face folder with the configuration of
openai/whisper-base (WhisperForConditionalGeneration: d_model 512, 6 encoder and 6 decoder
layers, 8 heads, feed-forward 2048, vocabulary 51865, 80 mel bins; 72.6 M parameters) and random
weights (normal, std 0.02; norms near 1) in float32, written one tensor at a time, with the
tiny test fixture's tokenizer and preprocessor_config.json (80 mel bins). Then for each
precision (fp32, int4 by default) runs, each in a fresh process:

  libolive   olive run-pass --pass convert --param precision=P -m FOLDER -o OUT
  builder    PYTHON -m onnxruntime_genai.models.builder -i FOLDER -o OUT -p P -e cpu

and prints wall time and peak RSS of each and the ratios builder / libolive. Both outputs are
run in onnxruntime on the same random log-mel input and a 4-token prompt: the encoder output
and the decoder logits must agree within 1e-3 at fp32 (the script fails otherwise); at int4 it
prints the largest differences and the top-1 agreement.

The builder needs torch and transformers: pass the Python of such an environment with
--builder-python (default: this interpreter). Exits non-zero when libolive fails or the fp32
outputs disagree, never on timing.

  .venv/bin/python bench/convert_whisper.py --builder-python /path/to/torch-env/bin/python
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

from convert import fresh, last_line, measure, print_rows
from measure import build_type, gnu_time_works

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_ROOT = os.path.join(REPO, "bench", "out")
FIXTURE = os.path.join(REPO, "tests", "data", "convert_whisper", "whisper_tiny")
D, LAYERS, HEADS, FFN, VOCAB, MELS, SOURCE, TARGET = 512, 6, 8, 2048, 51865, 80, 1500, 448


def config():
    return {"architectures": ["WhisperForConditionalGeneration"], "model_type": "whisper", "d_model": D,
            "encoder_layers": LAYERS, "decoder_layers": LAYERS, "encoder_attention_heads": HEADS,
            "decoder_attention_heads": HEADS, "encoder_ffn_dim": FFN, "decoder_ffn_dim": FFN, "vocab_size": VOCAB,
            "num_mel_bins": MELS, "max_source_positions": SOURCE, "max_target_positions": TARGET,
            "activation_function": "gelu", "scale_embedding": False, "tie_word_embeddings": True,
            "bos_token_id": 50257, "eos_token_id": 50257, "pad_token_id": 50257, "decoder_start_token_id": 50258,
            "torch_dtype": "float32"}


def tensor_shapes():
    shapes = [("model.encoder.conv1.weight", (D, MELS, 3)), ("model.encoder.conv1.bias", (D,)),
              ("model.encoder.conv2.weight", (D, D, 3)), ("model.encoder.conv2.bias", (D,)),
              ("model.encoder.embed_positions.weight", (SOURCE, D)),
              ("model.decoder.embed_tokens.weight", (VOCAB, D)),
              ("model.decoder.embed_positions.weight", (TARGET, D))]
    for side in ("encoder", "decoder"):
        for i in range(LAYERS):
            stem = f"model.{side}.layers.{i}"
            attns = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
            for attn in attns:
                for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    shapes.append((f"{stem}.{attn}.{p}.weight", (D, D)))
                    if p != "k_proj":
                        shapes.append((f"{stem}.{attn}.{p}.bias", (D,)))
                for p in ("weight", "bias"):
                    shapes.append((f"{stem}.{attn}_layer_norm.{p}", (D,)))
            shapes += [(f"{stem}.fc1.weight", (FFN, D)), (f"{stem}.fc1.bias", (FFN,)),
                       (f"{stem}.fc2.weight", (D, FFN)), (f"{stem}.fc2.bias", (D,)),
                       (f"{stem}.final_layer_norm.weight", (D,)), (f"{stem}.final_layer_norm.bias", (D,))]
        shapes += [(f"model.{side}.layer_norm.weight", (D,)), (f"model.{side}.layer_norm.bias", (D,))]
    return shapes


def generate_checkpoint():
    folder = os.path.join(OUT_ROOT, "convert-whisper-base")
    if os.path.isfile(os.path.join(folder, "model.safetensors")):
        return folder
    tmp = folder + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    shapes = tensor_shapes()
    header, offset = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(tmp, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for name, shape in shapes:
            n = int(np.prod(shape))
            if "layer_norm.weight" in name:
                a = (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)
            else:
                a = (0.02 * rng.standard_normal(n)).astype(np.float32)
            f.write(a.tobytes())
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config(), f, indent=2)
    with open(os.path.join(tmp, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 50257, "eos_token_id": 50257, "pad_token_id": 50257,
                   "decoder_start_token_id": 50258}, f, indent=2)
    with open(os.path.join(FIXTURE, "preprocessor_config.json")) as f:
        pre = json.load(f)
    pre["feature_size"] = MELS
    with open(os.path.join(tmp, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(FIXTURE, name), tmp)
    os.rename(tmp, folder)
    return folder


def run_whisper(folder, decoder_file, features, prompt):
    """(encoder hidden states, logits of the prompt) from the two models in `folder`."""
    import onnxruntime as ort
    enc = ort.InferenceSession(os.path.join(folder, "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(os.path.join(folder, decoder_file), providers=["CPUExecutionProvider"])
    encoded = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, {"audio_features": features})))
    feeds = {"input_ids": prompt}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            feeds[f"past_{kind}_self_{i}"] = np.zeros((1, HEADS, 0, D // HEADS), np.float32)
            feeds[f"past_{kind}_cross_{i}"] = encoded[f"present_{kind}_cross_{i}"]
    return encoded["hidden_states"], dec.run(["logits"], feeds)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precisions", default="fp32,int4")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cli", default=os.path.join(REPO, "build", "examples", "olive", "olive"))
    ap.add_argument("--builder-python", default=sys.executable,
                    help="python with torch, transformers and onnxruntime-genai")
    ap.add_argument("--skip-builder", action="store_true")
    args = ap.parse_args()
    if not os.access(args.cli, os.X_OK):
        sys.exit(f"{args.cli} not found: build first (meson setup build && ninja -C build)")
    gnu_time = gnu_time_works()
    src = generate_checkpoint()
    params = sum(int(np.prod(s)) for _, s in tensor_shapes())
    print(f"checkpoint: {params / 1e6:.1f} M parameters, float32, {src}")
    print(f"libolive build: {build_type(args.cli)}; builder python: {args.builder_python}")
    run_root = os.path.join(OUT_ROOT, "convert-whisper-run")
    rng = np.random.default_rng(1)
    features = rng.uniform(-0.8, 1.2, (1, MELS, 2 * SOURCE)).astype(np.float32)
    prompt = np.array([[50258, 50259, 50359, 50363]], np.int32)
    failed = False
    for precision in args.precisions.split(","):
        ours = os.path.join(run_root, f"libolive-{precision}")
        theirs = os.path.join(run_root, f"builder-{precision}")
        rows = {}
        t, r, err, rc = measure([args.cli, "run-pass", "--pass", "convert", "--param", f"precision={precision}",
                                 "-m", src, "-o", ours], args.runs, gnu_time, out_dir=ours)
        if rc:
            print(f"libolive failed ({precision}): {last_line(err)}")
            return 1
        rows["libolive"] = (t, r)
        if not args.skip_builder:
            t, r, err, rc = measure([args.builder_python, "-m", "onnxruntime_genai.models.builder", "-i", src,
                                     "-o", theirs, "-p", precision, "-e", "cpu", "-c", fresh(theirs + ".cache")],
                                    args.runs, gnu_time, env={"HF_HUB_OFFLINE": "1"}, out_dir=theirs)
            rows["builder"] = (t, r)
            if rc:
                print(f"builder failed ({precision}): {last_line(err)}")
        print_rows(f"{precision}, whisper-base-shaped", rows, args.runs, gnu_time)
        h1, l1 = run_whisper(ours, "model.onnx", features, prompt)
        if rows.get("builder", (None,))[0] is None:
            ok = bool(np.isfinite(l1).all())
            print(f"  libolive output runs in onnxruntime: logits {list(l1.shape)}, finite: {ok}")
            failed |= not ok
            continue
        h2, l2 = run_whisper(theirs, "decoder.onnx", features, prompt)
        dh, dl = float(np.abs(h1 - h2).max()), float(np.abs(l1 - l2).max())
        top1 = float(np.mean(l1.argmax(-1) == l2.argmax(-1)))
        ok = max(dh, dl) <= 1e-3 if precision == "fp32" else True
        print(f"  outputs: encoder largest difference {dh:.2e}, logits on 4 tokens {dl:.2e}, top-1 agreement "
              f"{top1:.2f}" + ("" if ok else "  DIFFER (fp32 tolerance 1e-3)"))
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
