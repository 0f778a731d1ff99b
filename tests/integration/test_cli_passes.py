"""`olive passes` answers to every Olive pass type a workflow accepts, and shows what the
registry knows: the Olive types with the settings they imply, and the searchable parameters
with their default candidates, each of which the pass accepts."""
import json
import os
import subprocess

import pytest

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")


def olive(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


def all_passes():
    result = olive("passes", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_olive_type_names_its_pass():
    seen = set()
    for desc in all_passes():
        assert [t["type"] for t in desc["olive_types"]] == desc["aliases"]
        for olive_type in desc["aliases"]:
            assert olive_type.lower() not in seen, olive_type
            seen.add(olive_type.lower())
            for spelling in (olive_type, olive_type.lower()):
                result = olive("passes", spelling)
                assert result.returncode == 0, result.stderr
                assert result.stdout.startswith(desc["name"] + ": "), result.stdout
    # The types that are settings of a more general pass are among them.
    assert {"onnxmatmul4quantizer", "onnxconversion", "modelbuilder"} <= seen


def test_settings_of_a_type_are_shown():
    result = olive("passes", "OnnxMatMul4Quantizer")
    assert result.returncode == 0, result.stderr
    assert "OnnxMatMul4Quantizer (bits=4)" in result.stdout


def test_help_lines_fit_on_a_line():
    for desc in all_passes():
        assert "\n" not in desc["summary"] and len(desc["summary"]) <= 100, desc["name"]
        for param in desc["parameters"]:
            assert "\n" not in param["help"] and len(param["help"]) <= 100, (desc["name"], param["name"])


def test_searchable_parameters_are_shown_and_accepted(tmp_path):
    searchable = 0
    for desc in all_passes():
        params = [p for p in desc["parameters"] if p.get("search")]
        if not params:
            continue
        text = olive("passes", desc["name"]).stdout
        assert "Searchable parameters (default candidates):" in text
        for param in params:
            searchable += 1
            assert "  %s: %s" % (param["name"], ", ".join(param["search"])) in text
            assert len(param["search"]) >= 2
            if "choices" in param:
                assert set(param["search"]) <= set(param["choices"])
    # Olive searches quantize_dynamic's weight_type, per_channel and reduce_range.
    dynamic = {p["name"]: p for p in json.loads(olive("passes", "quantize_dynamic", "--json").stdout)["parameters"]}
    assert dynamic["weight_type"]["search"] == ["QInt8", "QUInt8"]
    assert dynamic["per_channel"]["search"] == ["false", "true"]
    assert searchable >= 5


def test_description_carries_the_workflow_facts():
    convert = json.loads(olive("passes", "ModelBuilder", "--json").stdout)
    assert convert["accepts_checkpoint"] is True and convert["depends_on_accelerator"] is True
    builder = next(t for t in convert["olive_types"] if t["type"] == "ModelBuilder")
    assert builder["renames"]["int4_block_size"] == "block_size"
    assert {"key": "torch_dtype", "param": "precision",
            "values": {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}} in convert["olive_keys"]
    assert convert["nested_keys"] == ["extra_options"]
    peephole = json.loads(olive("passes", "peephole", "--json").stdout)
    assert peephole["accepts_checkpoint"] is False and peephole["depends_on_accelerator"] is False
