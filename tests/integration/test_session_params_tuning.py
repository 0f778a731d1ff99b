"""The OrtSessionParamsTuning pass (session_params_tuning) in a workflow: on a small BERT
classifier with a data config, every listed ONNX Runtime setting is measured and logged, the
fastest is written as inference_settings in model_config.json (and ONNX Runtime accepts it), the
graph is unchanged, a second run is a cache hit that keeps the settings, and bad parameter values
fail clearly with nothing written. Latencies are noisy: the choice is checked against the logged
timings, never against a threshold.
"""

import json
import os
import pathlib
import re
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
EV = DATA / "evaluate"
TRIED = re.compile(r"session_params_tuning: (\w+ExecutionProvider) +intra_op_num_threads=(\d+) "
                   r"inter_op_num_threads=(\d+) execution_mode=(\w+) graph_optimization_level=(\w+): ([0-9.]+) ms")
LEVELS = {"disable": 0, "basic": 1, "extended": 2, "all": 99}


def olive(*args, cwd):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def onnx_input(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    r = olive("run-pass", "--pass", "convert", "-m", DATA / "convert_encoder" / "bert_seqcls", "-o", d / "model",
              "--param", "precision=fp32", cwd=d)
    assert r.returncode == 0, r.stderr
    return d / "model"


def config(model, **tune):
    entry = {"type": "OrtSessionParamsTuning", "data_config": "cls", "intra_thread_num_list": [1, 2],
             "inter_thread_num_list": [1], "execution_mode_list": ["ORT_SEQUENTIAL", "ORT_PARALLEL"],
             "opt_level_list": [1, 99], "batch_size": 2, "repeat": 2}
    entry.update(tune)
    return {"input_model": {"type": "ONNXModel", "model_path": str(model)},
            "data_configs": [{"name": "cls", "type": "HuggingfaceContainer",
                              "load_dataset_config": {"data_name": "json", "data_files": str(EV / "classify.jsonl"),
                                                      "split": "train"},
                              "pre_process_data_config": {"model_name": str(EV / "wp_tokenizer"),
                                                          "input_cols": ["sentence"], "label_col": "label",
                                                          "padding": "max_length", "max_length": 16},
                              "dataloader_config": {"batch_size": 1}}],
            "passes": {"tune": entry},
            "output_dir": "out", "cache_dir": "cache"}


def run(tmp_path, cfg):
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return olive("run", "--config", "config.json", "--log_level", "1", cwd=tmp_path)


def same_graph(a_path, b_path):
    a, b = onnx.load(str(a_path)), onnx.load(str(b_path))
    assert [n.SerializeToString() for n in a.graph.node] == [n.SerializeToString() for n in b.graph.node]
    assert a.graph.input == b.graph.input and a.graph.output == b.graph.output
    wa = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
    wb = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_workflow_writes_the_fastest_setting(tmp_path, onnx_input):
    r = run(tmp_path, config(onnx_input))
    assert r.returncode == 0, r.stderr
    tried = TRIED.findall(r.stderr)
    # 2 levels x (2 sequential + 2 parallel with one inter-op count)
    assert len(tried) == 8, r.stderr
    assert {(t[3], t[4]) for t in tried} == {(m, lv) for m in ("sequential", "parallel") for lv in ("basic", "all")}
    fastest = min(tried, key=lambda t: float(t[5]))
    mc = json.loads((tmp_path / "out" / "model_config.json").read_text())
    inf = mc["config"]["inference_settings"]
    so = inf["session_options"]
    assert inf["execution_provider"] == ["CPUExecutionProvider"] and inf["io_bind"] is False
    chosen = [t for t in tried if (int(t[1]), int(t[2]), t[3], LEVELS[t[4]]) ==
              (so["intra_op_num_threads"], so["inter_op_num_threads"], ("sequential", "parallel")[so["execution_mode"]],
               so["graph_optimization_level"])]
    assert len(chosen) == 1 and float(chosen[0][5]) == float(fastest[5])
    # ONNX Runtime takes the recorded settings as they are.
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = so["intra_op_num_threads"]
    opts.inter_op_num_threads = so["inter_op_num_threads"]
    opts.execution_mode = ort.ExecutionMode(so["execution_mode"])
    opts.graph_optimization_level = ort.GraphOptimizationLevel(so["graph_optimization_level"])
    ort.InferenceSession(str(tmp_path / "out" / "model.onnx"), opts, providers=inf["execution_provider"])
    same_graph(onnx_input / "model.onnx", tmp_path / "out" / "model.onnx")

    # A second run is a cache hit: nothing is measured again and the settings are kept.
    r2 = run(tmp_path, config(onnx_input))
    assert r2.returncode == 0, r2.stderr
    assert "pass tune (session_params_tuning): cache hit" in r2.stderr and not TRIED.findall(r2.stderr)
    assert json.loads((tmp_path / "out" / "model_config.json").read_text())["config"]["inference_settings"] == inf


def test_generated_inputs_and_extra_session_config(tmp_path, onnx_input):
    cfg = config(onnx_input, intra_thread_num_list=2, execution_mode_list=0, opt_level_list=[99],
                 extra_session_config={"session.intra_op.allow_spinning": "0"}, enable_profiling=True)
    del cfg["passes"]["tune"]["data_config"]
    r = run(tmp_path, cfg)
    assert r.returncode == 0, r.stderr
    assert len(TRIED.findall(r.stderr)) == 1
    so = json.loads((tmp_path / "out" / "model_config.json").read_text())["config"]["inference_settings"][
        "session_options"]
    assert so["intra_op_num_threads"] == 2 and so["execution_mode"] == 0
    assert so["extra_session_config"] == {"session.intra_op.allow_spinning": "0"} and so["enable_profiling"] is True


def test_provider_missing_here_leaves_no_settings(tmp_path, onnx_input):
    # As Olive does when its baseline cannot run: a warning, and the model without settings.
    r = run(tmp_path, config(onnx_input, providers_list=["DmlExecutionProvider"], force_evaluate_other_eps=True))
    assert r.returncode == 0, r.stderr
    assert "DmlExecutionProvider is not available" in r.stderr and "keeps no inference_settings" in r.stderr
    assert json.loads((tmp_path / "out" / "model_config.json").read_text())["config"]["inference_settings"] is None
    cli = olive("tune-session-params", "-m", onnx_input, "-o", tmp_path / "cli", "--providers_list",
                "DmlExecutionProvider", cwd=tmp_path)
    assert cli.returncode == 1 and "none of the settings ran" in cli.stderr and not (tmp_path / "cli").exists()


@pytest.mark.parametrize("key,value,message", [
    ("opt_level_list", [5], "opt_level_list: 5 is not a graph optimization level"),
    ("execution_mode_list", ["FAST"], "'FAST' is not an execution mode"),
    ("intra_thread_num_list", ["many"], "intra_thread_num_list must be a list of at most 32 integers >= 0"),
    ("provider_options_list", {"device_id": 1}, "provider_options_list is not supported"),
    ("extra_session_config", {"session.x": [1]}, "extra_session_config: 'session.x' must map to a string"),
    ("providers_list", ["DmlExecutionProvider"], "providers_list leaves no execution provider to try"),
    ("repeat", 0, "repeat"),
    ("device", "tpu", "device must be cpu, gpu or npu, not 'tpu'"),
])
def test_bad_values_fail_clearly(tmp_path, onnx_input, key, value, message):
    r = run(tmp_path, config(onnx_input, **{key: value}))
    assert r.returncode == 1, r.stderr
    assert message in r.stderr
    assert not (tmp_path / "out").exists()


def test_passes_lists_it(tmp_path):
    r = olive("passes", "OrtSessionParamsTuning", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("session_params_tuning:") and "Olive pass types: OrtSessionParamsTuning" in r.stdout
    for key in ("providers_list", "intra_thread_num_list", "inter_thread_num_list", "execution_mode_list",
                "opt_level_list", "io_bind", "enable_cuda_graph", "force_evaluate_other_eps"):
        assert f"  {key} (" in r.stdout
    d = json.loads(olive("passes", "--json", cwd=tmp_path).stdout)
    entry = next(p for p in d if p["name"] == "session_params_tuning")
    assert entry["depends_on_accelerator"] is True
