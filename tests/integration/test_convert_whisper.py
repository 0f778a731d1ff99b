"""The convert pass on Whisper (WhisperForConditionalGeneration), against Hugging Face
transformers, onnxruntime, onnxruntime-genai and its model builder.

A tiny random checkpoint (tests/data/convert_whisper/whisper_tiny, made by make_fixtures.py
with transformers' outputs in reference.npz) is converted with `olive run-pass --pass
convert` (and once with `olive auto-opt`). Both models must pass onnx's checker; in
onnxruntime the encoder must give transformers' encoder output from the recorded log-mel
features, and the decoder, fed the encoder's cross-attention caches, transformers' logits for a
3-token prompt and for a second step that takes the first step's self-attention caches: within
1e-4 in fp32, 0.15 in fp16. onnxruntime-genai must load the output folder as written and
greedy-generate the tokens transformers' generate() gave (fp32), or those of a greedy loop over
the same models in onnxruntime (fp16, int4, int8); at int4 and int8 both models' MatMulNBits
weights must be those onnxruntime's MatMulNBitsQuantizer writes for the fp32 models. Its audio
processor, reading the audio_processor_config.json written from preprocessor_config.json, must
turn tone.wav into transformers' WhisperFeatureExtractor features. The models' inputs and
outputs, genai_config.json and audio_processor_config.json are those onnxruntime-genai's
builder writes (builder_reference.json), but for the decoder's file name and the
decoder_start_token_id we add. Settings the converter does not carry out, and a
preprocessor_config.json linked out of the folder, are refused by name, with no output folder."""

import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from olive_testlib import read_safetensors, run_convert, write_safetensors  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert_whisper" / "whisper_tiny"
LAYERS, HEADS, HEAD_SIZE = 2, 4, 8


@pytest.fixture(scope="module")
def reference():
    return np.load(DATA / "reference.npz")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """precision -> output folder, converted once per module."""
    done = {}

    def get(precision):
        if precision not in done:
            out = tmp_path_factory.mktemp(f"whisper_{precision}") / "out"
            run_convert(CLI, DATA, out, f"precision={precision}")
            done[precision] = out
        return done[precision]

    return get


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_steps(out, ref, dtype):
    """Encoder, then two decoder steps; returns (encoder outputs, step 0 and step 1 logits)."""
    enc = session(out / "encoder.onnx")
    dec = session(out / "model.onnx")
    names = [o.name for o in enc.get_outputs()]
    encoded = dict(zip(names, enc.run(None, {"audio_features": ref["audio_features"].astype(dtype)})))
    feed = {"input_ids": ref["prompt"]}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            feed[f"past_{kind}_self_{i}"] = np.zeros((1, HEADS, 0, HEAD_SIZE), dtype)
            feed[f"past_{kind}_cross_{i}"] = encoded[f"present_{kind}_cross_{i}"]
    names = [o.name for o in dec.get_outputs()]
    step0 = dict(zip(names, dec.run(None, feed)))
    feed["input_ids"] = ref["next"]
    for i in range(LAYERS):
        for kind in ("key", "value"):
            feed[f"past_{kind}_self_{i}"] = step0[f"present_{kind}_self_{i}"]
    step1 = dict(zip(names, dec.run(None, feed)))
    for i in range(LAYERS):
        assert step1[f"present_key_self_{i}"].shape == (1, HEADS, 4, HEAD_SIZE)
    return encoded, step0["logits"], step1["logits"]


def test_layout_is_the_one_onnxruntime_genai_runs(converted):
    out = converted("fp32")
    for name in ("encoder.onnx", "model.onnx"):
        onnx.checker.check_model(str(out / name))
    enc = onnx.load(str(out / "encoder.onnx"), load_external_data=False)
    dec = onnx.load(str(out / "model.onnx"), load_external_data=False)
    assert [i.name for i in enc.graph.input] == ["audio_features"]
    assert [o.name for o in enc.graph.output] == ["hidden_states"] + [
        f"present_{k}_cross_{i}" for i in range(LAYERS) for k in ("key", "value")]
    assert [i.name for i in dec.graph.input] == ["input_ids"] + [
        f"past_{k}_{i}" for i in range(LAYERS) for k in ("key_self", "value_self", "key_cross", "value_cross")]
    assert dec.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32
    assert [o.name for o in dec.graph.output] == ["logits"] + [
        f"present_{k}_self_{i}" for i in range(LAYERS) for k in ("key", "value")]
    attention = [n for n in dec.graph.node if n.op_type == "MultiHeadAttention"]
    assert len(attention) == 2 * LAYERS
    config = json.loads((out / "genai_config.json").read_text())
    assert config["model"]["type"] == "whisper"
    assert config["model"]["encoder"]["filename"] == "encoder.onnx"
    assert config["model"]["decoder"]["filename"] == "model.onnx"
    assert config["model"]["decoder_start_token_id"] == 60
    audio = json.loads((out / "audio_processor_config.json").read_text())
    ops = [s["operation"] for s in audio["feature_extraction"]["sequence"]]
    assert [o["type"] for o in ops] == ["AudioDecoder", "STFTNorm", "LogMelSpectrum"]
    assert ops[2]["attrs"] == {"chunk_size": 30, "hop_length": 160, "n_fft": 400, "n_mel": 8}
    for name in ("config.json", "generation_config.json", "preprocessor_config.json"):
        assert (out / name).read_bytes() == (DATA / name).read_bytes()


@pytest.mark.parametrize("precision, dtype, tol", [("fp32", np.float32, 1e-4), ("fp16", np.float16, 0.15)])
def test_encoder_and_decoder_match_transformers(converted, reference, precision, dtype, tol):
    encoded, logits0, logits1 = run_steps(converted(precision), reference, dtype)
    errors = {
        "encoder": np.abs(encoded["hidden_states"].astype(np.float32) - reference["encoder_hidden_states"]).max(),
        "step 0": np.abs(logits0.astype(np.float32) - reference["logits_0"]).max(),
        "step 1": np.abs(logits1.astype(np.float32) - reference["logits_1"]).max(),
    }
    for what, err in errors.items():
        assert err <= tol, f"{precision} {what} differs from transformers by {err:.3g} (tolerance {tol})"


def genai_greedy(out, reference, length, dtype=np.float32):
    og = pytest.importorskip("onnxruntime_genai")
    model = og.Model(str(out))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=length, do_sample=False)
    generator = og.Generator(model, params)
    inputs = og.NamedTensors()
    inputs["audio_features"] = reference["audio_features"].astype(dtype)
    inputs["input_ids"] = reference["prompt"]
    generator.set_inputs(inputs)
    while not generator.is_done():
        generator.generate_next_token()
    return np.asarray(generator.get_sequence(0)).tolist()


def ort_greedy(out, reference, length, dtype=np.float32, eos=61):
    """Greedy decoding with the two models in onnxruntime, the caches carried by hand."""
    enc = session(out / "encoder.onnx")
    dec = session(out / "model.onnx")
    encoded = dict(zip([o.name for o in enc.get_outputs()],
                       enc.run(None, {"audio_features": reference["audio_features"].astype(dtype)})))
    names = [o.name for o in dec.get_outputs()]
    ids = reference["prompt"][0].tolist()
    feed = {"input_ids": reference["prompt"]}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            feed[f"past_{kind}_self_{i}"] = np.zeros((1, HEADS, 0, HEAD_SIZE), dtype)
            feed[f"past_{kind}_cross_{i}"] = encoded[f"present_{kind}_cross_{i}"]
    while len(ids) < length and ids[-1] != eos:
        result = dict(zip(names, dec.run(None, feed)))
        ids.append(int(result["logits"][0, -1].argmax()))
        feed["input_ids"] = np.array([[ids[-1]]], np.int32)
        for i in range(LAYERS):
            for kind in ("key", "value"):
                feed[f"past_{kind}_self_{i}"] = result[f"present_{kind}_self_{i}"]
    return ids


def test_onnxruntime_genai_generates_transformers_tokens(converted, reference):
    pytest.importorskip("onnxruntime_genai")
    want = reference["generated"][0]
    assert genai_greedy(converted("fp32"), reference, len(want)) == want.tolist()
    assert ort_greedy(converted("fp32"), reference, len(want)) == want.tolist()
    assert len(set(want[3:].tolist())) > 2  # the reference is no single repeated token


def test_onnxruntime_genai_runs_fp16(converted, reference):
    """float16 inputs and caches: the same tokens as a greedy loop in onnxruntime."""
    pytest.importorskip("onnxruntime_genai")
    length = len(reference["generated"][0])
    out = converted("fp16")
    assert genai_greedy(out, reference, length, np.float16) == ort_greedy(out, reference, length, np.float16)


@pytest.mark.parametrize("bits", [4, 8])
def test_int_weights_are_onnxruntime_quantizer_weights(converted, reference, bits):
    from onnx import numpy_helper
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    fp32, out = converted("fp32"), converted(f"int{bits}")
    for name, count in (("encoder.onnx", 6 * LAYERS + 2 * LAYERS), ("model.onnx", 8 * LAYERS + 1)):
        ours = onnx.load(str(out / name))
        # block 32, symmetric, accuracy level 4: what convert sets for the CPU
        quant = MatMulNBitsQuantizer(onnx.load(str(fp32 / name)), bits=bits, block_size=32, is_symmetric=True,
                                     accuracy_level=4)
        quant.process()
        theirs = quant.model.model
        got = {t.name: numpy_helper.to_array(t) for t in ours.graph.initializer}
        want = {t.name: numpy_helper.to_array(t) for t in theirs.graph.initializer}
        nodes = [n for n in theirs.graph.node if n.op_type == "MatMulNBits"]
        assert len(nodes) == count == sum(n.op_type == "MatMulNBits" for n in ours.graph.node)
        assert not any(n.op_type == "MatMul" for n in ours.graph.node)
        for n in nodes:
            for weight in n.input[1:3]:
                assert got[weight].tobytes() == want[weight].tobytes(), f"{name}: {weight}"
    pytest.importorskip("onnxruntime_genai")
    length = len(reference["generated"][0])
    assert genai_greedy(out, reference, length) == ort_greedy(out, reference, length)


def test_audio_processor_config_gives_transformers_features(converted, reference):
    """ONNX Runtime Extensions' front end frames the signal's edges differently from
    transformers (no reflection padding at the start, the frame where the audio stops): those
    four frames are left out; every other frame must agree within 2e-3."""
    og = pytest.importorskip("onnxruntime_genai")
    model = og.Model(str(converted("fp32")))
    processor = model.create_multimodal_processor()
    inputs = processor("<|startoftranscript|>", audios=og.Audios.open(str(DATA.parent / "tone.wav")))
    got = inputs["audio_features"].as_numpy()
    want = reference["tone_features"]
    assert got.shape == want.shape == (1, 8, 3000)
    err = np.abs(got - want)[0].max(axis=0)
    edges = [0, 1, 100, 101]  # the audio lasts 100 frames of 160 samples
    assert np.delete(err, edges).max() <= 2e-3, np.argsort(-err)[:8]
    assert inputs["input_ids"].as_numpy().tolist() == [[60]]


def test_auto_opt_writes_the_whisper_folder(tmp_path, reference):
    """`olive auto-opt` on a Whisper folder converts it (through the workflow and its cache)
    into the same two models and runtime configs."""
    out = tmp_path / "out"
    proc = subprocess.run([CLI, "auto-opt", "-m", str(DATA), "-o", str(out), "--cache_dir", str(tmp_path / "cache")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name in ("encoder.onnx", "model.onnx", "genai_config.json", "audio_processor_config.json",
                 "tokenizer.json"):
        assert (out / name).is_file(), name
    _, logits0, logits1 = run_steps(out, reference, np.float32)
    assert np.abs(logits0 - reference["logits_0"]).max() <= 1e-4
    assert np.abs(logits1 - reference["logits_1"]).max() <= 1e-4


def test_untied_head_reads_proj_out(tmp_path, reference):
    """tie_word_embeddings false: the head is proj_out.weight, here the token embeddings with
    their rows reversed, so the logits are transformers' in reverse vocabulary order."""
    src = edited_copy(tmp_path, tie_word_embeddings=False)
    tensors = read_safetensors(src / "model.safetensors")
    tensors["proj_out.weight"] = tensors["model.decoder.embed_tokens.weight"][::-1]
    write_safetensors(src / "model.safetensors", tensors)
    out = tmp_path / "out"
    run_convert(CLI, src, out)
    _, logits0, logits1 = run_steps(out, reference, np.float32)
    assert np.abs(logits0 - reference["logits_0"][..., ::-1]).max() <= 1e-4
    assert np.abs(logits1 - reference["logits_1"][..., ::-1]).max() <= 1e-4


def edited_copy(tmp_path, file="config.json", **changes):
    dst = tmp_path / "src"
    shutil.copytree(DATA, dst)
    config = json.loads((dst / file).read_text())
    config.update(changes)
    (dst / file).write_text(json.dumps(config))
    return dst


def interface(path):
    model = onnx.load(str(path), load_external_data=False)

    def values(vs):
        return [[v.name, v.type.tensor_type.elem_type,
                 [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]] for v in vs]
    return {"inputs": values(model.graph.input), "outputs": values(model.graph.output)}


def test_same_interface_as_onnxruntime_genai_builder(converted):
    ref = json.loads((DATA.parent / "builder_reference.json").read_text())
    out = converted("fp32")
    for ours, theirs in (("encoder.onnx", "encoder"), ("model.onnx", "decoder")):
        got, want = interface(out / ours), ref[theirs]
        assert sorted(got["inputs"]) == sorted(want["inputs"]), ours
        assert sorted(got["outputs"]) == sorted(want["outputs"]), ours
    config = json.loads((out / "genai_config.json").read_text())
    assert config["model"].pop("decoder_start_token_id") == 60
    want = ref["genai_config"]
    assert want["model"]["decoder"]["filename"] == "decoder.onnx"
    want["model"]["decoder"]["filename"] = "model.onnx"
    assert config == want
    assert json.loads((out / "audio_processor_config.json").read_text()) == ref["audio_processor"]


@pytest.mark.parametrize("file, changes, needles", [
    ("config.json", {"activation_function": "relu"}, ["'activation_function'", "'relu'"]),
    ("config.json", {"scale_embedding": True}, ["'scale_embedding'"]),
    ("config.json", {"use_weighted_layer_sum": True}, ["'use_weighted_layer_sum'"]),
    ("config.json", {"max_source_positions": 750}, ["'max_source_positions'", "750"]),
    ("config.json", {"d_model": 30}, ["d_model 30"]),
    ("generation_config.json", {"decoder_start_token_id": 64}, ["generation_config.json", "'decoder_start_token_id'"]),
    ("config.json", {"decoder_ffn_dim": 48}, ["decoder.layers.0.fc1.weight", "[64, 32]"]),
    ("config.json", {"tie_word_embeddings": False}, ["proj_out.weight", "missing"]),
    ("preprocessor_config.json", {"sampling_rate": 8000}, ["preprocessor_config.json", "'sampling_rate'", "8000"]),
    ("preprocessor_config.json", {"feature_size": 80}, ["'feature_size'", "num_mel_bins"]),
    ("preprocessor_config.json", {"dither": 1.0}, ["'dither'"]),
    ("preprocessor_config.json", {"hop_length": 200}, ["'hop_length'"]),
])
def test_unsupported_settings_are_refused_by_name(tmp_path, file, changes, needles):
    src = edited_copy(tmp_path, file, **changes)
    out = tmp_path / "out"
    proc = run_convert(CLI, src, out, expect_ok=False)
    assert proc.returncode not in (0, -11, -6), proc.stderr
    for needle in needles:
        assert needle in proc.stderr, f"{needle!r} not in {proc.stderr!r}"
    assert not out.exists()


def test_without_preprocessor_config_whispers_front_end_is_written(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(DATA, src)
    (src / "preprocessor_config.json").unlink()
    out = tmp_path / "out"
    run_convert(CLI, src, out)
    audio = json.loads((out / "audio_processor_config.json").read_text())
    assert audio["feature_extraction"]["sequence"][2]["operation"]["attrs"] == {
        "chunk_size": 30, "hop_length": 160, "n_fft": 400, "n_mel": 8}
    assert not (out / "preprocessor_config.json").exists()


def test_preprocessor_config_linked_outside_the_folder_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.json"
    outside.write_text((DATA / "preprocessor_config.json").read_text())
    src = tmp_path / "src"
    shutil.copytree(DATA, src)
    (src / "preprocessor_config.json").unlink()
    (src / "preprocessor_config.json").symlink_to(outside)
    out = tmp_path / "out"
    proc = run_convert(CLI, src, out, expect_ok=False)
    assert proc.returncode not in (0, -11, -6) and "preprocessor_config.json" in proc.stderr, proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("param, needle", [
    ("precision=bf16", "'bf16'"),
    ("exclude_lm_head=true", "exclude_lm_head"),
    ("num_hidden_layers=1", "num_hidden_layers"),
])
def test_decoder_only_parameters_are_refused(tmp_path, param, needle):
    proc = run_convert(CLI, DATA, tmp_path / "out", param, expect_ok=False)
    assert proc.returncode not in (0, -11, -6) and needle in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
