"""`olive run --config` with a YAML config: the same schema as JSON, the same result."""
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import onnx  # noqa: E402

from test_workflow import assert_failed, make_model, olive  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

# Anchors, an alias, comments, quoted and plain scalars, flow and block style.
YAML_CONFIG = """\
# quantize a small model to int4 with Olive's pass names
input_model:
  type: ONNXModel
  model_path: in/model.onnx
systems:
  local_system:
    type: LocalSystem
    accelerators:
      - {device: cpu, execution_providers: [CPUExecutionProvider]}
passes:
  peephole: {type: OnnxPeepholeOptimizer}
  quant: &quant
    type: "OnnxBlockWiseRtnQuantization"
    block_size: 32
    is_symmetric: true
engine:
  output_dir: out
  cache_dir: cache
"""

JSON_CONFIG = """{
  "input_model": {"type": "ONNXModel", "model_path": "in/model.onnx"},
  "systems": {"local_system": {"type": "LocalSystem",
              "accelerators": [{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
  "passes": {"peephole": {"type": "OnnxPeepholeOptimizer"},
             "quant": {"type": "OnnxBlockWiseRtnQuantization", "block_size": 32, "is_symmetric": true}},
  "engine": {"output_dir": "out", "cache_dir": "cache"}
}
"""


@pytest.fixture
def work(tmp_path):
    make_model(tmp_path / "in" / "model.onnx")
    return tmp_path


def run_config(work, name, text):
    (work / name).write_text(text)
    return olive("run", "--config", name, cwd=work)


@pytest.mark.parametrize("name", ["config.yaml", "config.yml"])
def test_yaml_config_gives_the_json_config_result(tmp_path, name):
    results = {}
    for kind, text, file in (("yaml", YAML_CONFIG, name), ("json", JSON_CONFIG, "config.json")):
        work = tmp_path / kind
        make_model(work / "in" / "model.onnx")
        r = run_config(work, file, text)
        assert r.returncode == 0, r.stderr
        model = onnx.load(str(work / "out" / "model.onnx"))
        results[kind] = model
        assert [n.op_type for n in model.graph.node].count("MatMulNBits") == 2
    a, b = results["yaml"], results["json"]
    assert [n.SerializeToString() for n in a.graph.node] == [n.SerializeToString() for n in b.graph.node]
    assert sorted(t.name for t in a.graph.initializer) == sorted(t.name for t in b.graph.initializer)


def test_alias_reuses_a_pass_config(work):
    text = YAML_CONFIG.replace("engine:", "  again: *quant\nengine:")
    r = run_config(work, "config.yaml", text)
    assert r.returncode == 0, r.stderr


def test_malformed_yaml_names_line_and_column(work):
    text = "input_model:\n  type: ONNXModel\n  model_path: [in/model.onnx\npasses: {}\n"
    err = assert_failed(run_config(work, "config.yaml", text), "config.yaml:", "invalid YAML")
    line = int(err.split("config.yaml:")[1].split(":")[0])
    assert 3 <= line <= 5, err
    assert not (work / "out").exists() and not (work / "cache").exists()


@pytest.mark.parametrize("text,fragment", [
    ("passes:\n  a: {type: OnnxPeepholeOptimizer}\n  a: {type: OnnxPeepholeOptimizer}\n", "duplicate key"),
    ("- just\n- a list\n", "object"),
    ("", "empty"),
    ("a: &x [*x]\n", "config.yaml"),
])
def test_bad_yaml_documents_are_clear_errors(work, text, fragment):
    r = run_config(work, "config.yaml", text)
    assert_failed(r, fragment)
    assert not (work / "out").exists()


def test_alias_bomb_is_refused(work):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    r = run_config(work, "config.yaml", "\n".join(lines) + "\n")
    assert_failed(r, "too many values")


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000 + "\n",
    "{a: " * 100_000 + "1" + "}" * 100_000 + "\n",
    "- " * 100_000 + "x\n",
    "".join(" " * i + "k:\n" for i in range(2000)),
], ids=["flow_sequences", "flow_mappings", "block_sequences", "block_mappings"])
def test_deep_nesting_is_refused_before_it_is_parsed_whole(work, text):
    """100 000 levels (a few hundred KB) used to take a minute inside the YAML loader before the
    depth limit spoke; the limit now applies while parsing."""
    (work / "config.yaml").write_text(text)
    r = subprocess.run([CLI, "run", "--config", "config.yaml"], capture_output=True, text=True, timeout=30,
                       cwd=work)
    assert_failed(r, "config.yaml:", "nested too deeply")


def test_nesting_within_the_limit_and_aliases_still_work(work):
    deep = "[" * 60 + "]" * 60
    text = YAML_CONFIG.replace("engine:", f"extra_deep: &deep {deep}\nagain: *deep\nengine:")
    r = run_config(work, "config.yaml", text)
    assert r.returncode == 0, r.stderr
    text = YAML_CONFIG.replace("engine:", f"extra_deep: &deep {deep}\nagain: [[[[[[*deep]]]]]]\nengine:")
    assert_failed(run_config(work, "config.yaml", text), "nested too deeply")


def test_yaml_type_errors_name_the_key(work):
    text = YAML_CONFIG.replace("block_size: 32", "block_size: [32, 64]")
    assert_failed(run_config(work, "config.yaml", text), "passes.quant.block_size")


def test_subprocess_never_crashes_on_truncated_yaml(work):
    for cut in range(0, len(YAML_CONFIG), 17):
        r = run_config(work, "config.yaml", YAML_CONFIG[:cut])
        assert r.returncode in (0, 1), (cut, r.returncode, r.stderr)
        assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr
        subprocess.run(["rm", "-rf", str(work / "out"), str(work / "cache")], check=True)
