"""`olive quantize` with the calibrated quantizers: --algorithm gptq / awq (int4 MatMulNBits) and
--precision int8 --act_precision int8 (static QDQ), on --data_files (a folder of .npy arrays)
or on a local text dataset (-d text --data_files ...) tokenized with the model folder's
tokenizer; missing calibration data is refused, and a Hub dataset offline with nothing cached."""

import numpy as np
import pytest

from test_workflow import assert_failed, check_output_folder, olive, op_types, work  # noqa: F401

onnx = pytest.importorskip("onnx")


@pytest.fixture
def calib(work):  # noqa: F811
    (work / "calib").mkdir()
    np.save(work / "calib" / "x.npy", np.random.default_rng(3).standard_normal((96, 64)).astype(np.float32))
    return work


@pytest.mark.parametrize("algorithm", ["gptq", "awq"])
def test_quantize_gptq_awq(calib, algorithm):
    r = olive("quantize", "-m", "in/model.onnx", "-o", "q", "--algorithm", algorithm, "--precision", "int4",
              "--block_size", "32", "--data_files", "calib", "--batch_size", "8", "--cache_dir", "cache", cwd=calib)
    assert r.returncode == 0, r.stderr
    model = check_output_folder(calib / "q", calib / "in" / "model.onnx", 0.25)
    assert op_types(model).count("MatMulNBits") == 2


def test_quantize_static_int8(calib):
    r = olive("quantize", "-m", "in/model.onnx", "-o", "q", "--precision", "int8", "--act_precision", "int8",
              "--data_files", "calib", "--cache_dir", "cache", cwd=calib)
    assert r.returncode == 0, r.stderr
    model = check_output_folder(calib / "q", calib / "in" / "model.onnx", 0.25)
    types = op_types(model)
    assert types.count("MatMul") == 2 and types.count("QuantizeLinear") >= 2


def test_quantize_calibrated_bad_flags(calib):
    assert_failed(olive("quantize", "-m", "in/model.onnx", "--algorithm", "gptq", cwd=calib), "--data_files")
    assert_failed(olive("quantize", "-m", "in/model.onnx", "--act_precision", "int8", "--data_files", "calib",
                        cwd=calib), "--precision int8")
    # A Hub dataset comes through the dataset viewer; offline with nothing cached, the error names it.
    import os
    import subprocess

    from test_workflow import CLI
    r = subprocess.run([CLI, "quantize", "-m", "in/model.onnx", "--algorithm", "awq", "-d", "wikitext"], cwd=calib,
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HF_HOME": str(calib / "hf"), "HF_HUB_OFFLINE": "1"})
    assert_failed(r, "wikitext", "HF_HUB_OFFLINE")
    assert not (calib / "quantized-model").exists()


def test_workflow_data_config_feeds_calibration(calib):
    """`olive run` with Olive's pass entries naming a data config: the DummyDataContainer's
    batches become the calibration data of OnnxStaticQuantization and Gptq, written to a
    temporary folder that is gone when the run ends."""
    import json
    import os
    import subprocess

    from test_workflow import CLI

    tmpdir = calib / "tmp"
    tmpdir.mkdir()
    for slot, entry in (("static", {"type": "OnnxStaticQuantization", "data_config": "calib_data",
                                    "quant_preprocess": True}),
                        ("gptq", {"type": "Gptq", "data_config": "calib_data", "group_size": 32})):
        config = {
            "input_model": {"type": "ONNXModel", "model_path": "in/model.onnx"},
            "data_configs": [{"name": "calib_data", "type": "DummyDataContainer",
                              "load_dataset_config": {"input_shapes": [[4, 64]], "input_names": ["x"],
                                                      "input_types": ["float32"], "max_samples": 3}}],
            "passes": {slot: entry},
            "output_dir": f"out_{slot}", "cache_dir": "cache",
        }
        (calib / f"{slot}.json").write_text(json.dumps(config))
        r = subprocess.run([CLI, "run", "--config", f"{slot}.json", "--strict"], capture_output=True, text=True,
                           cwd=calib, env={**os.environ, "TMPDIR": str(tmpdir)}, timeout=300)
        assert r.returncode == 0, r.stderr
        model = check_output_folder(calib / f"out_{slot}", calib / "in" / "model.onnx", 0.5)
        types = op_types(model)
        assert ("QuantizeLinear" in types) if slot == "static" else types.count("MatMulNBits") == 2
        assert not [p for p in tmpdir.iterdir() if p.name.startswith("olive-calibration-")]


def test_quantize_gptq_on_a_text_dataset_keeps_the_decoder_folder(tmp_path):
    """A converted tiny Llama folder, GPTQ int4 calibrated on a local text file with Olive's
    flags: the output folder keeps genai_config.json and the tokenizer, every MatMul (but the
    untied head's, if any) becomes MatMulNBits, and onnxruntime runs it."""
    from olive_testlib import run_convert, session

    import os
    cli = os.environ.get("OLIVE_CLI")
    src = os.path.join(os.path.dirname(__file__), "..", "data", "convert", "llama")
    run_convert(cli, src, tmp_path / "fp32")
    (tmp_path / "corpus.txt").write_text("The quick brown fox jumps over the lazy dog.\n" * 80)
    r = olive("quantize", "-m", "fp32", "-o", "q", "--algorithm", "gptq", "--precision", "int4", "--block_size",
              "32", "-d", "text", "--data_files", "corpus.txt", "--max_seq_len", "32", "--max_samples", "8",
              "--cache_dir", "cache", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for f in ("genai_config.json", "tokenizer.json", "model.onnx"):
        assert (tmp_path / "q" / f).exists(), f
    src_model = onnx.load(str(tmp_path / "fp32" / "model.onnx"))
    model = onnx.load(str(tmp_path / "q" / "model.onnx"))
    assert op_types(model).count("MatMulNBits") == op_types(src_model).count("MatMul") > 0
    ids = np.array([[1, 5, 9, 12]], np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    for i in src_model.graph.input:
        if i.name.startswith("past_key_values"):
            feed[i.name] = np.zeros((1, 2, 0, 16), np.float32)
    assert session(model).run(["logits"], feed)[0].shape[:2] == (1, 4)


def test_cache_follows_the_calibration_data(calib):
    """The cache key holds the calibration files' content, not the folder's path: the same data
    is a cache hit, changed data in the same folder is not."""
    def run(out):
        r = olive("quantize", "-m", "in/model.onnx", "-o", out, "--algorithm", "gptq", "--block_size", "32",
                  "--data_files", "calib", "--cache_dir", "cache", "--log_level", "1", cwd=calib)
        assert r.returncode == 0, r.stderr
        return "cache hit" in r.stderr

    assert not run("q1")
    assert run("q2")
    np.save(calib / "calib" / "x.npy", np.random.default_rng(9).standard_normal((96, 64)).astype(np.float32))
    assert not run("q3")
