"""Olive's ModelBuilder with `metadata_only: true` after OnnxConversion (the chain of olive-recipes'
Phi-4-mini mixed-tied recipe, on the CPU and without Gptq): SelectiveMixedPrecision → Rtn →
OnnxConversion → GraphSurgeries TieWordEmbeddings → ModelBuilder metadata_only. The output folder
is one ONNX Runtime GenAI loads: genai_config.json names exactly the graph's inputs and outputs,
the tokenizer is the checkpoint's, and onnxruntime-genai's greedy tokens are those of a plain
onnxruntime session decoding the same graph.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from olive_testlib import genai_greedy  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")
DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
MODEL = DATA / "convert" / "llama_tied"


def chain(torch_dtype="float32", surgeries=(), **mb):
    return {"s": {"type": "SelectiveMixedPrecision", "algorithm": "high_precision_mlp_down_qkv"},
            "r": {"type": "rtn", "bits": 8, "sym": False, "group_size": 32, "lm_head": True, "embeds": True},
            "m": {"type": "OnnxConversion", "torch_dtype": torch_dtype, "save_metadata_for_token_generation": True},
            "wt": {"type": "GraphSurgeries", "surgeries": [{"surgeon": "TieWordEmbeddings"}, *surgeries],
                   "save_as_external_data": True},
            "mb": {"type": "ModelBuilder", "precision": "int", "metadata_only": True, **mb}}


def run(tmp_path, passes, model=MODEL, model_type="HfModel"):
    cfg = {"input_model": {"type": model_type, "model_path": str(model)}, "passes": passes,
           "output_dir": "out", "cache_dir": "cache", "no_artifacts": True}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return subprocess.run([CLI, "run", "--config", "config.json", "--strict"], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)


def genai_names(names, layers):
    """Every graph name a genai_config.json inputs / outputs object stands for."""
    out = set()
    for key, value in names.items():
        out |= {value % i for i in range(layers)} if "%d" in value else {value}
    return out


def ort_greedy(path, prompt, new_tokens, layers):
    """Greedy decoding with a plain onnxruntime session: the whole sequence each step, empty caches."""
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    past = {i.name: i for i in s.get_inputs() if i.name not in ("input_ids", "attention_mask")}
    ids = list(prompt)
    for _ in range(new_tokens):
        feeds = {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64)}
        for name, i in past.items():
            feeds[name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
        logits = s.run(["logits"], feeds)[0]
        ids.append(int(logits[0, -1].argmax()))
    return ids


def test_metadata_only_writes_genai_config_for_the_converted_graph(tmp_path):
    # The caches renamed after the conversion: genai_config.json must follow the graph.
    layers = json.loads((MODEL / "config.json").read_text())["num_hidden_layers"]
    rename = [{"surgeon": "RenameInputs",
               "old_names": [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")],
               "new_names": [f"cache.{kv}.{i}" for i in range(layers) for kv in ("key", "value")]},
              {"surgeon": "RenameOutputs",
               "old_names": [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")],
               "new_names": [f"cache_out.{kv}.{i}" for i in range(layers) for kv in ("key", "value")]}]
    r = run(tmp_path, chain(surgeries=rename, search={"top_k": 1, "max_length": 24}))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    g = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    cfg = json.loads((out / "genai_config.json").read_text())
    decoder = cfg["model"]["decoder"]
    assert decoder["num_hidden_layers"] == layers
    assert decoder["inputs"]["past_key_names"] == "cache.key.%d"
    assert decoder["outputs"]["present_value_names"] == "cache_out.value.%d"
    assert decoder["filename"] == "model.onnx"
    assert genai_names(decoder["inputs"], layers) == {i.name for i in g.input}
    assert genai_names(decoder["outputs"], layers) == {o.name for o in g.output}
    # The plan quantized the graph: 8-bit MatMulNBits (the head, per Rtn) beside the 4-bit ones.
    bits = {next((a.i for a in n.attribute if a.name == "bits"), 4) for n in g.node if n.op_type == "MatMulNBits"}
    assert bits == {4, 8}, bits
    # Olive's search settings are merged over the builder's.
    assert cfg["search"]["top_k"] == 1 and cfg["search"]["max_length"] == 24
    assert cfg["search"]["num_beams"] == 1  # the builder's, kept
    assert (out / "tokenizer.json").read_bytes() == (MODEL / "tokenizer.json").read_bytes()
    prompt = [1, 5, 6, 7]
    assert genai_greedy(out, prompt, 6) == ort_greedy(out / "model.onnx", prompt, 6, layers)


def test_onnx_conversion_after_a_plan_keeps_its_torch_dtype(tmp_path):
    r = run(tmp_path, chain("float16"))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    g = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    dtypes = {v.name: v.type.tensor_type.elem_type for v in [*g.input, *g.output]}
    assert dtypes["logits"] == onnx.TensorProto.FLOAT16
    assert dtypes["past_key_values.0.key"] == onnx.TensorProto.FLOAT16
    assert any(n.op_type == "MatMulNBits" for n in g.node)
    decoder = json.loads((out / "genai_config.json").read_text())["model"]["decoder"]
    layers = decoder["num_hidden_layers"]
    assert genai_names(decoder["inputs"], layers) == {i.name for i in g.input}


def test_metadata_only_refuses_an_onnx_model_without_genai_config(tmp_path):
    r = run(tmp_path, {"mb": {"type": "ModelBuilder", "precision": "fp32", "metadata_only": True}},
            model=DATA / "fusion" / "bert_op17.onnx",
            model_type="ONNXModel")
    assert r.returncode == 1, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("olive: error: ")]
    assert len(errors) == 1 and "no genai_config.json" in errors[0], r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                    reason="this onnxruntime has CUDAExecutionProvider")
def test_recipe_chain_with_gptq_for_a_target_this_onnxruntime_lacks(tmp_path):
    """The recipe's whole chain, Gptq included, for CUDA on a machine whose onnxruntime has no
    CUDA: Gptq calibrates on the CPU (the values are the graph's either way), the model is
    written for CUDA, and its genai_config.json names the graph's inputs and outputs."""
    (tmp_path / "corpus.txt").write_text("The quick brown fox jumps over the lazy dog.\n" * 40)
    passes = chain()
    passes = {"s": passes["s"], "g": {"type": "gptq", "bits": 4, "sym": False, "group_size": 32, "data_config": "calib"},
              **{k: v for k, v in passes.items() if k != "s"}}
    cfg = {"input_model": {"type": "HfModel", "model_path": str(MODEL)},
           "systems": {"local": {"type": "LocalSystem",
                                 "accelerators": [{"execution_providers": ["CUDAExecutionProvider"]}]}},
           "data_configs": [{"name": "calib", "type": "HuggingfaceContainer",
                             "load_dataset_config": {"data_name": "text", "data_files": str(tmp_path / "corpus.txt"),
                                                     "split": "train"},
                             "pre_process_data_config": {"type": "text_generation_huggingface_pre_process",
                                                         "model_name": str(MODEL), "max_seq_len": 16,
                                                         "max_samples": 4, "use_attention_mask": True}}],
           "passes": passes, "target": "local", "log_severity_level": 1,
           "output_dir": "out", "cache_dir": "cache"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([CLI, "run", "--config", "config.json"], capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "has no CUDAExecutionProvider: calibrating on CPUExecutionProvider" in r.stderr, r.stderr
    out = tmp_path / "out"
    g = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    assert any(n.op_type == "MatMulNBits" for n in g.node)
    decoder = json.loads((out / "genai_config.json").read_text())["model"]["decoder"]
    assert "cuda" in json.dumps(decoder["session_options"]["provider_options"])  # written for CUDA
    layers = decoder["num_hidden_layers"]
    assert genai_names(decoder["inputs"], layers) == {i.name for i in g.input}
    assert genai_names(decoder["outputs"], layers) == {o.name for o in g.output}
