"""Olive's kld_gradient SelectiveMixedPrecision in a workflow: the alignment of every selection
unit (Olive's mean over samples of sum(grad_W KL * (W_low - W_high))) equals the one Olive 0.13
computes with torch autograd on the same checkpoint and token ids (recorded by
tests/data/smp/make_kld.py), within 1e-3 relative (libolive takes it as a central difference
through ONNX Runtime: 1.5e-4 measured), and the promoted modules are Olive's."""
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from olive_testlib import genai_greedy  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")
DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
REF = json.loads((DATA / "smp" / "kld.json").read_text())
UNIT = re.compile(r"kld_gradient: unit (\S+) alignment (\S+) score (\S+)")


def write_data(folder):
    """Olive's calibration samples of the reference: one sample of token ids per run."""
    folder.mkdir()
    ids = np.array(REF["input_ids"], dtype=np.int64)
    np.save(folder / "input_ids.npy", ids)
    np.save(folder / "attention_mask.npy", np.ones_like(ids))
    return folder


def run(tmp_path, arch, smp, log_level="0", env=None, name="out"):
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": "kld_gradient", **smp},
              "r": {"type": "Rtn", "bits": 4, "group_size": 32, "lm_head": True},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "convert" / arch)}, "passes": passes,
           "output_dir": str(tmp_path / name), "cache_dir": str(tmp_path / f"{name}_cache")}
    (tmp_path / f"{name}.json").write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(tmp_path / f"{name}.json"), "--log_level", log_level],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HOME": str(tmp_path / "hf"), **(env or {})})
    for alarm in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert alarm not in proc.stderr, proc.stderr
    return proc, tmp_path / name


def bits_by_node(folder):
    m = onnx.load(str(folder / "model.onnx"))
    out = {}
    for n in m.graph.node:
        if n.op_type == "MatMulNBits":
            attrs = {a.name: a.i for a in n.attribute}
            out[n.name.rsplit("/", 1)[0]] = (attrs["bits"], attrs["block_size"], len(n.input) == 4)
    return out


def node_of(module):
    if module == "lm_head":
        return "/lm_head"
    _, _, i, block, proj = module.split(".")
    if block == "self_attn":
        return f"/model/layers.{i}/attn/{'o_proj' if proj == 'o_proj' else 'qkv_proj'}"
    return f"/model/layers.{i}/mlp/{proj}"


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("case", ["g16_asym_r05", "g32_sym_r07"])
def test_scores_and_selection_equal_olives(tmp_path, arch, case):
    ref = REF["checkpoints"][arch][case]
    st = ref["settings"]
    smp = {"bits": st["bits"], "group_size": st["group_size"], "sym": st["sym"], "high_bits": st["high_bits"],
           "high_group_size": st["high_group_size"], "high_sym": st["high_sym"], "ratio": st["ratio"],
           "calibration_data": str(write_data(tmp_path / "calib"))}
    proc, out = run(tmp_path, arch, smp)
    assert proc.returncode == 0, proc.stderr
    got = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in UNIT.finditer(proc.stderr + proc.stdout)}
    assert set(got) == set(ref["units"])
    for unit, r in ref["units"].items():
        alignment, score = got[unit]
        assert alignment == pytest.approx(r["alignment"], rel=1e-3), unit
        assert score == pytest.approx(r["score"], rel=1e-3), unit
    high = {node_of(m) for m in ref["promoted"]}
    found = bits_by_node(out)
    assert len(found) == 11 and high and high != set(found)
    for path, got_bits in found.items():
        if path in high:
            assert got_bits == (st["high_bits"], st["high_group_size"], not st["high_sym"]), path
        else:
            assert got_bits == (st["bits"], st["group_size"], not st["sym"]), path
    assert len(genai_greedy(out, [1, 2, 3], 2)) == 5


def test_progress_and_cost_are_told(tmp_path):
    proc, _ = run(tmp_path, "llama", {"group_size": 16, "ratio": 0.5,
                                      "calibration_data": str(write_data(tmp_path / "calib"))}, log_level="1")
    assert proc.returncode == 0, proc.stderr
    text = proc.stderr + proc.stdout
    assert "kld_gradient: 11 units on 3 calibration samples: 69 runs of the float32 model" in text
    assert "kld_gradient: sample 3 of 3 scored" in text


def test_without_data_offline_names_olives_default_dataset(tmp_path):
    """Without data, an HfModel gets Olive's default (wikitext-2 from the Hub): offline and not
    cached, an error naming it before any work, nothing written."""
    proc, out = run(tmp_path, "llama", {"group_size": 16, "ratio": 0.5}, log_level="2",
                    env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert proc.returncode != 0 and "Salesforce/wikitext" in proc.stderr, proc.stderr
    assert "256 windows of" in proc.stderr
    assert not out.exists()


def test_default_data_from_the_hub(tmp_path):
    """With the dataset served, the default data is wikitext-2's train split and the selection
    promotes modules to 8 bits."""
    from datasets_server import DatasetsServer
    words = "the model reads text and the quantizer learns from it while a tokenizer cuts it".split()
    rows = [{"text": " ".join(words[(i + j) % len(words)] for j in range(40)) + "\n"} for i in range(60)]
    server = DatasetsServer()
    server.add("Salesforce/wikitext", {"wikitext-2-raw-v1": {"train": rows}})
    try:
        proc, out = run(tmp_path, "llama", {"group_size": 16, "ratio": 0.5}, log_level="1",
                        env={"HF_DATASETS_SERVER_ENDPOINT": server.url})
        asked = server.rows_requests()
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    assert asked and all(q["dataset"] == "Salesforce/wikitext" and q["split"] == "train" for q in asked)
    assert {b for b, _, _ in bits_by_node(out).values()} == {4, 8}


def test_bad_data_is_named(tmp_path):
    calib = write_data(tmp_path / "calib")
    np.save(calib / "position_ids.npy", np.zeros((3, 24), dtype=np.int64))
    proc, out = run(tmp_path, "llama", {"group_size": 16, "ratio": 0.5, "calibration_data": str(calib)},
                    log_level="2")
    assert proc.returncode != 0 and "position_ids" in proc.stderr, proc.stderr
    assert not out.exists()
