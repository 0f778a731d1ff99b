#!/usr/bin/env python3
"""Makes the Whisper converter's fixture: a tiny random WhisperForConditionalGeneration
(2 encoder and 2 decoder layers, d_model 32, 4 heads, 8 mel bins, vocab 64; the encoder still
takes Whisper's 3000 frames, as ONNX Runtime GenAI requires) saved as a Hugging Face folder
with safetensors, config.json, generation_config.json and preprocessor_config.json, and
transformers' outputs in reference.npz:

  audio_features [1, 8, 3000]            log-mel input (random, in Whisper's range)
  encoder_hidden_states [1, 1500, 32]    the encoder's last_hidden_state
  prompt [1, 3] int32, logits_0 [1, 3, 64]       first decoder step from the prompt
  next [1, 1] int32, logits_1 [1, 1, 64]         second step, with the first step's past
  generated [1, N] int32                 generate(): greedy tokens, prompt included
  tone_features [1, 8, 3000]             WhisperFeatureExtractor's log-mel of tone.wav

builder_reference.json records what onnxruntime-genai's model builder (0.18) writes for the same
folder (fp32, cpu): genai_config.json, audio_processor_config.json's operations, and both
models' inputs and outputs (name, element type, dims).

The folder also gets a tokenizer (60 one-letter tokens and Whisper's special tokens, so that
ONNX Runtime GenAI's audio processor, which needs one, loads), and tone.wav (1 s, 16 kHz,
two sine waves) sits next to it.

Run with the torch environment: `$TORCHPY tests/data/convert_whisper/make_fixtures.py`."""
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np
import tokenizers as tk
import torch
import transformers as tf

HERE = pathlib.Path(__file__).resolve().parent
FOLDER = HERE / "whisper_tiny"
torch.manual_seed(1234)

VOCAB, START, EOS = 64, 60, 61
MAX_LENGTH = 14

config = tf.WhisperConfig(vocab_size=VOCAB, num_mel_bins=8, d_model=32, encoder_layers=2, decoder_layers=2,
                          encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, max_source_positions=1500, max_target_positions=32,
                          bos_token_id=EOS, eos_token_id=EOS, pad_token_id=EOS, decoder_start_token_id=START,
                          suppress_tokens=[], begin_suppress_tokens=None, forced_decoder_ids=None,
                          architectures=["WhisperForConditionalGeneration"])
model = tf.WhisperForConditionalGeneration(config).eval()
with torch.no_grad():
    # HF's initialization leaves attention nearly uniform; larger values make every weight count.
    for name, p in model.named_parameters():
        if "embed_positions" in name and "encoder" in name:
            continue  # the sinusoidal table stays as Whisper has it
        base = 1.0 if "layer_norm.weight" in name else 0.0
        p.copy_(torch.randn_like(p) * 0.5 + base)

if FOLDER.exists():
    shutil.rmtree(FOLDER)
model.save_pretrained(FOLDER, safe_serialization=True)
model.generation_config.save_pretrained(FOLDER)
extractor = tf.WhisperFeatureExtractor(feature_size=8)
extractor.save_pretrained(FOLDER)
letters = [chr(ord("a") + i) for i in range(26)] + [chr(ord("A") + i) for i in range(26)] + list("01234567")
tokenizer = tk.Tokenizer(tk.models.BPE(vocab={c: i for i, c in enumerate(letters)}, merges=[]))
tokenizer.add_special_tokens(["<|startoftranscript|>", "<|endoftext|>", "<|en|>", "<|notimestamps|>"])
fast = tf.PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>")
assert fast.convert_tokens_to_ids(["<|startoftranscript|>", "<|endoftext|>"]) == [START, EOS]
fast.save_pretrained(FOLDER)

t = np.arange(16000) / 16000
pcm = ((0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1234 * t)) * 32767).astype(np.int16)
with wave.open(str(HERE / "tone.wav"), "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(16000)
    w.writeframes(pcm.tobytes())
tone_features = extractor(pcm.astype(np.float32) / 32768, sampling_rate=16000, return_tensors="np").input_features

rng = np.random.default_rng(7)
# Stored as float16 (half the bytes): the reference runs on exactly those values.
features = rng.uniform(-0.8, 1.2, size=(1, 8, 3000)).astype(np.float16).astype(np.float32)
prompt = np.array([[START, 5, 9]], dtype=np.int32)
with torch.no_grad():
    enc = model.model.encoder(torch.from_numpy(features)).last_hidden_state
    out0 = model(encoder_outputs=(enc,), decoder_input_ids=torch.from_numpy(prompt).long(), use_cache=True)
    nxt = out0.logits[:, -1:].argmax(-1).to(torch.int32)
    out1 = model(encoder_outputs=(enc,), decoder_input_ids=nxt.long(), past_key_values=out0.past_key_values,
                 use_cache=True)
    # Whisper's generate() returns the new tokens only.
    gen = model.generate(torch.from_numpy(features), decoder_input_ids=torch.from_numpy(prompt).long(),
                         max_new_tokens=MAX_LENGTH - prompt.shape[1], do_sample=False, num_beams=1)
    # The same greedy search by hand: generate() must not have added its own rules.
    ids = torch.from_numpy(prompt).long()
    while ids.shape[1] < MAX_LENGTH:
        logits = model(encoder_outputs=(enc,), decoder_input_ids=ids).logits
        ids = torch.cat([ids, logits[:, -1:].argmax(-1)], dim=1)
        if ids[0, -1].item() == EOS:
            break
assert torch.equal(gen, ids[:, prompt.shape[1]:]), (gen, ids)
np.savez_compressed(FOLDER / "reference.npz", audio_features=features.astype(np.float16),
                    encoder_hidden_states=enc.numpy(), prompt=prompt, logits_0=out0.logits.numpy(),
                    next=nxt.numpy(), logits_1=out1.logits.numpy(), generated=ids.numpy().astype(np.int32),
                    tone_features=tone_features.astype(np.float32))
print("generated", ids.tolist())
print(json.dumps({p.name: p.stat().st_size for p in sorted(FOLDER.iterdir())}))


def interface(path):
    import onnx
    model = onnx.load(str(path), load_external_data=False)

    def values(vs):
        return [[v.name, v.type.tensor_type.elem_type,
                 [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]] for v in vs]
    return {"inputs": values(model.graph.input), "outputs": values(model.graph.output)}


with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(FOLDER), "-o", tmp + "/out",
                    "-p", "fp32", "-e", "cpu", "-c", tmp + "/cache"], check=True, capture_output=True)
    out = pathlib.Path(tmp) / "out"
    audio = json.loads((out / "audio_processor_config.json").read_text())
    for step in audio["feature_extraction"]["sequence"]:
        step["operation"].get("attrs", {}).pop("_comment", None)  # the Hann window, as a comment
    reference = {"genai_config": json.loads((out / "genai_config.json").read_text()), "audio_processor": audio,
                 "encoder": interface(out / "encoder.onnx"), "decoder": interface(out / "decoder.onnx")}
(HERE / "builder_reference.json").write_text(json.dumps(reference, indent=1) + "\n")
print("builder reference recorded")
