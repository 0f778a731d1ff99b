"""The `olive` command-line tool, checked against what onnx and onnxruntime say.

The tool's path comes from OLIVE_CLI (meson test sets it). Models are built here with
onnx.helper; their expected summaries are computed with onnx and numpy, and optimized models
must pass onnx.checker and give the same onnxruntime outputs as the originals.
"""

import collections
import json
import os
import re
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import run_on_terminal  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

TIMEOUT = 120


def olive(*args, **kwargs):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def error_lines(result):
    return result.stderr.splitlines()


def assert_one_error_line(result, status):
    lines = error_lines(result)
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("olive: error: "), lines[0]
    return lines[0]


# ---- models ----

def make_model():
    """Two inputs with symbolic dims, two outputs, float/float16/int64 initializers, and nodes
    a peephole optimizer removes (an Identity, a transpose pair)."""
    rng = np.random.default_rng(0)
    inits = {
        "w1": rng.standard_normal((4, 8)).astype(np.float32),
        "b1": rng.standard_normal(8).astype(np.float32),
        "w2": rng.standard_normal((8, 3)).astype(np.float32),
        "scale": np.array([0.5, 2.0, -1.0], dtype=np.float16),
        "shape": np.array([-1, 3], dtype=np.int64),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="mm1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="add1"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("Transpose", ["h2"], ["t1"], name="tr1", perm=[1, 0]),
        helper.make_node("Transpose", ["t1"], ["t2"], name="tr2", perm=[1, 0]),
        helper.make_node("Identity", ["t2"], ["h3"], name="ident"),
        helper.make_node("MatMul", ["h3", "w2"], ["h4"], name="mm2"),
        helper.make_node("Cast", ["scale"], ["scale_f"], name="cast_scale", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["h4", "scale_f"], ["h5"], name="mul"),
        helper.make_node("Reshape", ["h5", "shape"], ["y"], name="reshape"),
        helper.make_node("Cast", ["mask"], ["mask_f"], name="cast_mask", to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes, "cli_test",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
                helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
                 helper.make_tensor_value_info("mask_f", TensorProto.FLOAT, ["batch", "seq"])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="cli-test")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def feeds():
    rng = np.random.default_rng(1)
    return {"x": rng.standard_normal((5, 4)).astype(np.float32),
            "mask": rng.integers(0, 2, size=(5, 7)).astype(np.int64)}


def ort_outputs(path):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds())))


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(make_model(), str(path))
    return path


def dtype_name(elem_type):
    return TensorProto.DataType.Name(elem_type).lower()


def onnx_dims(value_info):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def expected_parameters(model):
    arrays = [numpy_helper.to_array(t) for t in model.graph.initializer]
    by_dtype = collections.defaultdict(lambda: [0, 0])
    for t, a in zip(model.graph.initializer, arrays):
        by_dtype[dtype_name(t.data_type)][0] += a.size
        by_dtype[dtype_name(t.data_type)][1] += a.nbytes
    return sum(a.size for a in arrays), dict(by_dtype)


def check_same_outputs(original, optimized):
    onnx.checker.check_model(str(optimized), full_check=True)
    want = ort_outputs(original)
    got = ort_outputs(optimized)
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


# ---- help, version, usage ----

def listed_commands():
    result = olive("--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Commands:") + 1
    commands = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        commands.append(line.split()[0])
    return commands


def test_top_level_help_lists_the_commands():
    assert {"inspect", "passes", "run-pass"} <= set(listed_commands())


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help(flag):
    for command in listed_commands():
        result = olive(command, flag)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.startswith("usage: olive " + command), result.stdout
        assert "--log_level" in result.stdout
        assert result.stderr == ""


OLIVE_ONLY_COMMANDS = ["finetune", "capture-onnx-graph",
                       "shared-cache", "init", "generate-cost-model",
                       "configure-qualcomm-sdk", "diffusion-lora", "generate-model-package"]


@pytest.mark.parametrize("command", OLIVE_ONLY_COMMANDS)
def test_every_olive_command_is_known(command, tmp_path):
    """Olive's commands that libolive does not provide say what they do and what to use instead
    (exit 1 when run, 0 for --help), never "unknown command"; `olive --help` lists them."""
    assert command in olive("--help").stdout
    result = olive(command, "--model_name_or_path", "m", "-o", tmp_path / "out")
    line = assert_one_error_line(result, 1)
    assert "unknown" not in line and f"'{command}'" in line and "libolive" in line, line
    assert not (tmp_path / "out").exists()
    result = olive(command, "--help")
    assert result.returncode == 0 and result.stderr == "", result
    assert result.stdout.startswith("usage: olive " + command) and "Here: " in result.stdout, result.stdout
    if command == "finetune":
        assert "convert-adapters" in result.stdout and "generate-adapter" in result.stdout, result.stdout


def test_version_matches_the_library():
    result = olive("--version")
    assert result.returncode == 0
    m = re.match(r"olive (\d+)\.(\d+)\.(\d+)$", result.stdout.splitlines()[0])
    assert m, result.stdout
    build_dir = os.environ.get("OLIVE_BUILD_DIR")
    header = os.path.join(build_dir or "", "include", "olive", "version.h")
    if build_dir and os.path.exists(header):
        text = open(header).read()
        want = [re.search(r"#define OLIVE_VERSION_%s (\d+)" % part, text).group(1)
                for part in ("MAJOR", "MINOR", "PATCH")]
        assert list(m.groups()) == want


def usage_cases(model, out):
    """(arguments, text the error line must name)."""
    return [
        ([], "no command"),
        (["frobnicate"], "frobnicate"),
        (["--bogus", "passes"], "--bogus"),
        (["--log_level", "9", "passes"], "--log_level"),
        (["inspect"], "MODEL"),
        (["inspect", model, "--bogus"], "--bogus"),
        (["inspect", model, model], str(model)),
        (["inspect", model, "--log_level=x"], "--log_level"),
        (["passes", "--nope"], "--nope"),
        (["passes", "a", "b"], "'b'"),
        (["run-pass", "-m", model, "-o", out], "--pass"),
        (["run-pass", "--pass", "peephole", "-o", out], "--model_name_or_path"),
        (["run-pass", "--pass", "peephole", "-m", model], "--output_path"),
        (["run-pass", "--pass", "peephole", "--param", "noequals", "-m", model, "-o", out], "noequals"),
        (["run-pass", "--pass", "peephole", "--pipeline", "peephole", "-m", model, "-o", out], "--pipeline"),
        (["run-pass", "--pipeline", "peephole", "--param", "a=b", "-m", model, "-o", out], "--param"),
        (["run-pass", "--pass", "peephole", "--save", "size_threshold", "-m", model, "-o", out], "--save"),
        (["run-pass", "--pass", "peephole", "--overwrite=yes", "-m", model, "-o", out], "--overwrite"),
        (["run-pass", "--pass", "peephole", "-m", model, "-o", out, "extra"], "extra"),
        (["run-pass", "-m", model, "-o", out, "--pass"], "--pass"),
        (["run-pass", "--pass", "peephole", "--pass", "peephole", "-m", model, "-o", out], "--pass"),
        (["run-pass", "--pass", "peephole", "-m", model, "-o", out, "--device", "tpu"], "tpu"),
        (["auto-opt", "-o", out], "--model_name_or_path"),
        (["auto-opt", "-m", model, "-o", out, "--precision", "int3"], "--precision"),
        (["optimize", "-m", model, "-o", out, "--block_size", "7"], "--block_size"),
        (["auto-opt", "-m", model, "-o", out, "--accuracy_level", "x"], "--accuracy_level"),
        (["auto-opt", "-m", model, "-o", out, "--provider", "FooExecutionProvider"], "FooExecutionProvider"),
        (["auto-opt", "-m", model, "-o", out, "--device", "tpu"], "tpu"),
        (["quantize", "-m", model, "-o", out, "--algorithm", "foo"], "--algorithm"),
        (["quantize", "-m", model, "-o", out, "--precision", "fp16"], "--precision"),
        (["run", "--config"], "--config"),
    ]


def test_usage_errors_exit_2_with_one_line(model_path, tmp_path):
    out = tmp_path / "out"
    for args, named in usage_cases(model_path, out):
        result = olive(*args)
        line = assert_one_error_line(result, 2)
        assert named in line, (args, line)
        assert "--help" in line, (args, line)
        assert result.stdout == "", args
        assert not out.exists(), args


# ---- failures from the library ----

def test_missing_model_names_the_path(tmp_path):
    missing = tmp_path / "no_such_model.onnx"
    line = assert_one_error_line(olive("inspect", missing), 1)
    assert str(missing) in line

    out = tmp_path / "out"
    line = assert_one_error_line(olive("run-pass", "--pass", "peephole", "-m", missing, "-o", out), 1)
    assert str(missing) in line
    assert not out.exists()


def test_not_an_onnx_file_is_a_clear_failure(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff\xff\xff this is not a protobuf")
    line = assert_one_error_line(olive("inspect", bad), 1)
    assert str(bad) in line


def test_unknown_pass_and_bad_parameter(model_path, tmp_path):
    out = tmp_path / "out"
    line = assert_one_error_line(olive("run-pass", "--pass", "no_such_pass", "-m", model_path, "-o", out), 1)
    assert "no_such_pass" in line
    line = assert_one_error_line(olive("run-pass", "--pass", "peephole", "--param", "no_such_key=1",
                                       "-m", model_path, "-o", out), 1)
    assert "no_such_key" in line
    line = assert_one_error_line(olive("passes", "no_such_pass"), 1)
    assert "no_such_pass" in line
    assert not out.exists()


# ---- inspect ----

def section(lines, title_prefix):
    """The indented lines under the first line that starts with title_prefix."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title_prefix))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        body.append(line.strip())
    return lines[start], body


def test_inspect_text_matches_onnx(model_path):
    model = onnx.load(str(model_path))
    result = olive("inspect", model_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    for title, values in (("Inputs", model.graph.input), ("Outputs", model.graph.output)):
        header, body = section(lines, title)
        assert header == "%s (%d):" % (title, len(values))
        for vi, line in zip(values, body):
            parts = line.split(None, 2)
            assert parts[0] == vi.name
            assert parts[1] == dtype_name(vi.type.tensor_type.elem_type)
            assert parts[2] == "[%s]" % ", ".join(str(d) for d in onnx_dims(vi))

    header, body = section(lines, "Nodes:")
    assert header.startswith("Nodes: %d," % len(model.graph.node)), header
    histogram = collections.Counter(n.op_type for n in model.graph.node)
    shown = [(line.split()[0], int(line.split()[1])) for line in body]
    assert dict(shown) == dict(histogram)
    counts = [c for _, c in shown]
    assert counts == sorted(counts, reverse=True), "operator counts are not sorted"

    params, by_dtype = expected_parameters(model)
    assert "Initializers: %d" % len(model.graph.initializer) in lines
    assert any(line.startswith("Parameters: %d " % params) for line in lines), result.stdout
    _, body = section(lines, "Weights by data type:")
    shown = {line.split()[0]: int(re.search(r"(\d+) elements", line).group(1)) for line in body}
    assert shown == {k: v[0] for k, v in by_dtype.items()}
    assert any(line.startswith("Opsets:") and "ai.onnx 17" in line for line in lines)


def test_inspect_json_matches_onnx(model_path):
    model = onnx.load(str(model_path))
    result = olive("inspect", model_path, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)

    for key, values in (("inputs", model.graph.input), ("outputs", model.graph.output)):
        got = [(v["name"], v["dtype"], v["shape"]) for v in summary[key]]
        want = [(vi.name, dtype_name(vi.type.tensor_type.elem_type), onnx_dims(vi)) for vi in values]
        assert got == want
    assert summary["node_count"] == len(model.graph.node)
    assert summary["op_types"] == dict(collections.Counter(n.op_type for n in model.graph.node))
    assert summary["initializer_count"] == len(model.graph.initializer)
    params, by_dtype = expected_parameters(model)
    assert summary["parameter_count"] == params
    got = {k: [v["elements"], v["bytes"]] for k, v in summary["parameters_by_dtype"].items() if v["elements"]}
    assert got == {k: v for k, v in by_dtype.items()}
    assert {"domain": "ai.onnx", "version": 17} in summary["opsets"]


# ---- passes ----

def test_inspect_counts_packed_weights_as_parameters(tmp_path):
    """An int4 model written by onnxruntime's MatMulNBits quantizer, with an int4
    GatherBlockQuantized table built here with numpy, has the parameter count of its float
    original (onnx's count of the float initializers): packed bytes and block scales are not
    parameters. An output folder is inspected through its model."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    rng = np.random.default_rng(5)
    vocab, hidden, out = 32, 64, 48
    w = rng.standard_normal((hidden, out)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["h", "w"], ["y"], name="mm")]
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, hidden])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    quant = MatMulNBitsQuantizer(model, block_size=32, is_symmetric=False)
    quant.process()
    qmodel = quant.model.model
    assert [n.op_type for n in qmodel.graph.node] == ["MatMulNBits"]
    # An int4 embedding table: two 4-bit values per byte, one scale per 32 values.
    table = rng.integers(0, 256, (vocab, hidden // 2), dtype=np.uint8)
    scales = rng.random((vocab, hidden // 32)).astype(np.float32)
    qmodel.graph.initializer.extend([numpy_helper.from_array(table, "table"), numpy_helper.from_array(scales, "tscale")])
    qmodel.graph.node.insert(0, helper.make_node("GatherBlockQuantized", ["table", "ids", "tscale"], ["h"],
                                                 domain="com.microsoft", block_size=32, bits=4, gather_axis=0,
                                                 quantize_axis=1))
    del qmodel.graph.input[:]
    qmodel.graph.input.append(helper.make_tensor_value_info("ids", TensorProto.INT64, [1]))
    folder = tmp_path / "out"
    folder.mkdir()
    onnx.save(qmodel, str(folder / "model.onnx"))
    ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    float_count = w.size + vocab * hidden
    result = olive("inspect", folder / "model.onnx", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["parameter_count"] == float_count
    # The folder itself, and a folder whose model_config.json names another file.
    by_folder = olive("inspect", folder, "--json")
    assert by_folder.returncode == 0, by_folder.stderr
    assert json.loads(by_folder.stdout)["parameter_count"] == float_count
    (folder / "model.onnx").rename(folder / "renamed.onnx")
    (folder / "model_config.json").write_text(json.dumps({"type": "ONNXModel", "config": {
        "model_path": str(folder), "onnx_file_name": "renamed.onnx"}}))
    text = olive("inspect", folder)
    assert text.returncode == 0, text.stderr
    assert "Parameters: %d (" % float_count in text.stdout, text.stdout


def test_passes_lists_peephole_and_describes_each():
    result = olive("passes")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.startswith("  ")]
    assert "peephole" in names
    for name in names:
        described = olive("passes", name, "--json")
        assert described.returncode == 0, described.stderr
        desc = json.loads(described.stdout)
        assert desc["name"] == name
        text = olive("passes", name)
        assert text.returncode == 0, text.stderr
        assert text.stdout.startswith(name + ": " + desc["summary"])
        for param in desc["parameters"]:
            assert re.search(r"^  %s \(%s" % (re.escape(param["name"]), param["type"]), text.stdout, re.M), \
                (name, param["name"], text.stdout)


def test_passes_accepts_olive_pass_types():
    desc = json.loads(olive("passes", "peephole", "--json").stdout)
    for alias in desc["aliases"]:
        result = olive("passes", alias)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("peephole: ")


# ---- run-pass ----

def test_run_pass_output_is_valid_and_equivalent(model_path, tmp_path):
    out = tmp_path / "out"
    result = olive("run-pass", "--pass", "peephole", "-m", model_path, "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "stderr is not a terminal: nothing but errors should be printed"
    check_same_outputs(model_path, out / "model.onnx")
    # peephole must have removed something (Identity, the transpose pair).
    assert len(onnx.load(str(out / "model.onnx")).graph.node) < len(onnx.load(str(model_path)).graph.node)


def test_run_pass_with_olive_flag_spelling_and_params(model_path, tmp_path):
    desc = json.loads(olive("passes", "peephole", "--json").stdout)
    params = ["--param=%s=%s" % (p["name"], p["default"]) for p in desc["parameters"]]
    out = tmp_path / "out"
    result = olive("run-pass", "--pass", desc["aliases"][0] if desc["aliases"] else "peephole", *params,
                   "--model_name_or_path", model_path, "--output_path", out)
    assert result.returncode == 0, result.stderr
    check_same_outputs(model_path, out / "model.onnx")


def test_run_pass_pipeline_logs_one_line_per_pass(model_path, tmp_path):
    out = tmp_path / "out"
    result = olive("run-pass", "--pipeline", "peephole ! peephole", "-m", model_path, "-o", out,
                   "--log_level", "1")
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("olive: pass ")]
    assert [line.split()[2] for line in ours] == ["1/2", "2/2"], result.stderr
    check_same_outputs(model_path, out / "model.onnx")


def test_existing_output_needs_overwrite(model_path, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "keep.txt"
    keep.write_text("do not remove")
    line = assert_one_error_line(olive("run-pass", "--pass", "peephole", "-m", model_path, "-o", out), 1)
    assert str(out) in line
    assert sorted(os.listdir(out)) == ["keep.txt"] and keep.read_text() == "do not remove"

    # --overwrite replaces what libolive writes; a file it did not write stays.
    result = olive("run-pass", "--pass", "peephole", "-m", model_path, "-o", out, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert keep.read_text() == "do not remove"
    check_same_outputs(model_path, out / "model.onnx")


def test_save_settings_reach_the_writer(model_path, tmp_path):
    # 64 bytes moves w1 (128 B) and w2 (96 B) out and keeps Reshape's shape inline: neither
    # onnx's shape inference nor onnxruntime reads a shape input from external data.
    out = tmp_path / "out"
    result = olive("run-pass", "--pass", "peephole", "-m", model_path, "-o", out,
                   "--save", "external_data=auto", "--save=size_threshold=64")
    assert result.returncode == 0, result.stderr
    saved = onnx.load(str(out / "model.onnx"), load_external_data=False)
    external = {t.name for t in saved.graph.initializer if t.data_location == TensorProto.EXTERNAL}
    assert external == {t.name for t in make_model().graph.initializer if numpy_helper.to_array(t).nbytes >= 64}
    assert (out / "model.onnx.data").is_file()
    check_same_outputs(model_path, out / "model.onnx")

    line = assert_one_error_line(olive("run-pass", "--pass", "peephole", "-m", model_path, "-o", tmp_path / "o2",
                                       "--save", "external_data=sometimes"), 1)
    assert "external_data" in line
    assert not (tmp_path / "o2").exists()


def test_progress_bar_on_a_terminal(model_path, tmp_path):
    out = tmp_path / "out"
    returncode, shown, _ = run_on_terminal([CLI, "run-pass", "--pass", "peephole", "-m", str(model_path), "-o",
                                            str(out)], TIMEOUT)
    assert returncode == 0, shown
    text = shown.decode(errors="replace")
    assert "\r" in text and "100%" in text and "peephole" in text, text
    assert text.endswith("\n"), "the progress bar must end its line"
    check_same_outputs(model_path, out / "model.onnx")


# ---- the BLAS kernels the calibrating commands start with ----

def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def openblas_cores(stderr):
    """The kernels each OpenBLAS start reported (OPENBLAS_VERBOSE=2 prints 'Core: NAME')."""
    return re.findall(r"^Core: (\S+)", stderr, re.M)


def test_calibrating_commands_start_openblas_with_the_kernels_of_this_cpu():
    flags = cpu_flags()
    if {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= flags:
        want = "SkylakeX"
    elif {"avx2", "fma"} <= flags:
        want = "Haswell"
    else:
        want = None
    env = dict(os.environ, OPENBLAS_VERBOSE="2")
    env.pop("OPENBLAS_CORETYPE", None)
    run = olive("run", "--help", env=env)
    assert run.returncode == 0, run.stderr
    cores = openblas_cores(run.stdout + run.stderr)
    assert cores, "OpenBLAS printed no 'Core:' line: " + run.stderr[-500:]
    if want:
        # started twice: OpenBLAS's own choice, then the one for this CPU's vector width
        assert len(cores) == 2 and cores[1] == want, cores
    else:
        assert len(cores) == 1, cores
    # a command that does not calibrate starts once, with OpenBLAS's own choice
    listing = olive("passes", env=env)
    assert openblas_cores(listing.stdout + listing.stderr) == cores[:1]
    # the user's choice is kept
    mine = olive("run", "--help", env=dict(env, OPENBLAS_CORETYPE="Prescott"))
    assert openblas_cores(mine.stdout + mine.stderr) == ["Prescott"]
