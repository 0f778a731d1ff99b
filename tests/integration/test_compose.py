"""The compose_onnx_models pass (Olive's ComposeOnnxModels) against Olive's own output for the
models in tests/data/compose (recorded by make_compose.py): the same inputs, outputs, nodes (by
name, op, inputs and outputs), initializers (bytes) and kept value_info, and onnxruntime gives
for the composed model what it gives for the three parts run one after the other. Bad chains
(a shared initializer that differs, an output name reused, a cycle, a connected input of
another shape, a same-named node that differs) fail naming the value, and write nothing. Olive's CompositeModel
input_model runs it in a workflow (cached by the components' contents); with another first pass,
or in its llm_pipeline form, it is refused."""

import json
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")
DATA = os.path.join(os.path.dirname(__file__), "..", "data", "compose")
PARTS = [os.path.join(DATA, f"{n}.onnx") for n in "abc"]


def compose(first, others, out, *extra):
    return subprocess.run([CLI, "run-pass", "--pass", "compose_onnx_models", "-m", str(first), "--param",
                           "components=" + ",".join(str(p) for p in others), "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=120)


def nodes(m):
    return sorted((n.name, n.op_type, tuple(n.input), tuple(n.output)) for n in m.graph.node)


def initializers(m):
    return {t.name: (t.data_type, tuple(t.dims), numpy_helper.to_array(t).tobytes()) for t in m.graph.initializer}


def run(m, feeds):
    # Without graph optimizations: onnxruntime would otherwise fuse the composed graph's
    # DequantizeLinear -> MatMul pairs differently from each part's, changing the float rounding.
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, {k: feeds[k] for k in names})))


def test_compose_like_olive(tmp_path):
    proc = compose(PARTS[0], PARTS[1:], tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(tmp_path / "out" / "model.onnx"))
    onnx.checker.check_model(ours, full_check=True)
    theirs = onnx.load(os.path.join(DATA, "olive_composed.onnx"))
    assert [i.name for i in ours.graph.input] == [i.name for i in theirs.graph.input] == ["x", "mask"]
    assert [o.name for o in ours.graph.output] == [o.name for o in theirs.graph.output]
    assert [o.type for o in ours.graph.output] == [o.type for o in theirs.graph.output]
    assert nodes(ours) == nodes(theirs)
    assert sum(n.name == "dq_shared" for n in ours.graph.node) == 1
    assert initializers(ours) == initializers(theirs)
    assert sorted(v.SerializeToString() for v in ours.graph.value_info) == \
        sorted(v.SerializeToString() for v in theirs.graph.value_info)
    assert [(o.domain, o.version) for o in ours.opset_import] == [(o.domain, o.version) for o in theirs.opset_import]

    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((2, 4)).astype(np.float32),
             "mask": rng.standard_normal((2, 4)).astype(np.float32)}
    chained = dict(feeds)
    for p in PARTS:
        chained.update(run(onnx.load(p), chained))
    got = run(ours, feeds)
    assert sorted(got) == ["a_side", "b_side", "z", "z_sig"]
    for k, v in got.items():
        np.testing.assert_array_equal(v, chained[k], err_msg=k)


def vi(name, shape=(2, 4)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def save(tmp_path, name, nodes_, inputs, outputs, inits=()):
    m = helper.make_model(helper.make_graph(nodes_, name, inputs, outputs, list(inits)),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(m, str(path))
    return path


def bad_second(tmp_path, case):
    """A model to follow a.onnx, broken as `case` says; the words the error must hold."""
    if case == "initializer":
        w = numpy_helper.from_array(np.ones((4, 4), np.float32), "W_shared")
        return save(tmp_path, "bad", [helper.make_node("MatMul", ["h", "W_shared"], ["y"], name="m")], [vi("h")],
                    [vi("y")], [w]), ["W_shared", "differs"]
    if case == "reused_output":
        return save(tmp_path, "bad", [helper.make_node("Relu", ["h"], ["a_side"], name="r")], [vi("h")],
                    [vi("a_side")]), ["a_side", "already an output"]
    if case == "circular":
        return save(tmp_path, "bad", [helper.make_node("Relu", ["h"], ["x"], name="r")], [vi("h")],
                    [vi("x")]), ["'x'", "cycle"]
    if case == "shape":
        return save(tmp_path, "bad", [helper.make_node("Relu", ["h"], ["y"], name="r")], [vi("h", (3, 4))],
                    [vi("y", (3, 4))]), ["'h'", "shape"]
    if case == "node":
        return save(tmp_path, "bad", [helper.make_node("Relu", ["h"], ["y"], name="a_relu")], [vi("h")],
                    [vi("y")]), ["a_relu", "differs"]
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["initializer", "reused_output", "circular", "shape", "node"])
def test_bad_chains_fail_writing_nothing(tmp_path, case):
    second, words = bad_second(tmp_path, case)
    out = tmp_path / "out"
    proc = compose(PARTS[0], [second], out)
    assert proc.returncode != 0
    for w in words + [str(second)]:
        assert w in proc.stderr, proc.stderr
    assert not out.exists()


def test_missing_components_and_missing_file(tmp_path):
    proc = subprocess.run([CLI, "run-pass", "--pass", "ComposeOnnxModels", "-m", PARTS[0], "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "components" in proc.stderr
    missing = tmp_path / "nope.onnx"
    proc = compose(PARTS[0], [missing], tmp_path / "o")
    assert proc.returncode != 0 and str(missing) in proc.stderr
    assert not (tmp_path / "o").exists()


def workflow(tmp_path, components, passes, **model):
    cfg = {"input_model": {"type": "CompositeModel",
                           "model_components": [{"type": "ONNXModel", "model_path": str(p)} for p in components],
                           "model_component_names": [f"m{i}" for i in range(len(components))], **model},
           "passes": passes, "output_dir": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache")}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return subprocess.run([CLI, "run", "--config", str(path)], capture_output=True, text=True, timeout=120)


def test_composite_model_workflow(tmp_path):
    """Olive's CompositeModel input with ComposeOnnxModels first gives Olive's composition; the
    cache follows the components' contents, not their paths."""
    parts = []
    for p in PARTS:
        parts.append(tmp_path / os.path.basename(p))
        parts[-1].write_bytes(open(p, "rb").read())
    proc = workflow(tmp_path, parts, {"compose": {"type": "ComposeOnnxModels"}})
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(tmp_path / "out" / "model.onnx"))
    theirs = onnx.load(os.path.join(DATA, "olive_composed.onnx"))
    assert nodes(ours) == nodes(theirs) and initializers(ours) == initializers(theirs)
    assert [o.name for o in ours.graph.output] == [o.name for o in theirs.graph.output]

    # Another last model at the same path: the composed model follows it.
    bias = numpy_helper.from_array(np.array([9.0, 9.0, 9.0, 9.0], np.float32), "c_bias")
    c = onnx.load(str(parts[2]))
    c.graph.initializer[0].CopyFrom(bias)
    onnx.save(c, str(parts[2]))
    proc = workflow(tmp_path, parts, {"compose": {"type": "ComposeOnnxModels"}})
    assert proc.returncode == 0, proc.stderr
    again = onnx.load(str(tmp_path / "out" / "model.onnx"))
    assert initializers(again)["c_bias"][2] == np.full(4, 9.0, np.float32).tobytes()


def test_composite_model_needs_compose_first(tmp_path):
    proc = workflow(tmp_path, PARTS, {"peep": {"type": "OnnxPeepholeOptimizer"},
                                      "compose": {"type": "ComposeOnnxModels"}})
    assert proc.returncode != 0
    assert "CompositeModel" in proc.stderr and "'peep'" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_composite_llm_pipeline_refused(tmp_path):
    pipeline = {"embeddings": ["m0"], "context": ["m1"], "iterator": ["m1"], "lm_head": ["m2"]}
    proc = workflow(tmp_path, PARTS, {"compose": {"type": "ComposeOnnxModels"}},
                    model_attributes={"llm_pipeline": pipeline})
    assert proc.returncode != 0 and "llm_pipeline" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_opsets_merged_and_conflicts_refused(tmp_path):
    """A later model's operator domains join the composed model's imports (Olive keeps only the
    first model's, which would leave com.microsoft's Gelu unimported); the same domain at two
    versions is refused, as onnx.compose refuses it."""
    g = helper.make_graph([helper.make_node("Gelu", ["h"], ["g"], name="gelu", domain="com.microsoft")], "ms",
                          [vi("h")], [vi("g")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "ms.onnx"))
    proc = compose(PARTS[0], [tmp_path / "ms.onnx"], tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(tmp_path / "out" / "model.onnx"))
    assert {(o.domain, o.version) for o in ours.opset_import} == {("", 17), ("com.microsoft", 1)}
    feeds = {"x": np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)}
    chained = dict(feeds)
    for p in (PARTS[0], str(tmp_path / "ms.onnx")):
        chained.update(run(onnx.load(p), chained))
    np.testing.assert_array_equal(run(ours, feeds)["g"], chained["g"])

    m.opset_import[0].version = 18
    onnx.save(m, str(tmp_path / "ms18.onnx"))
    proc = compose(PARTS[0], [tmp_path / "ms18.onnx"], tmp_path / "out18")
    assert proc.returncode != 0 and "opset" in proc.stderr and "ms18.onnx" in proc.stderr, proc.stderr
    assert not (tmp_path / "out18").exists()


def test_component_with_local_functions_refused(tmp_path):
    m = onnx.load(PARTS[2])
    m.functions.append(helper.make_function("local", "F", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                                            [helper.make_opsetid("", 17)]))
    onnx.save(m, str(tmp_path / "f.onnx"))
    proc = compose(PARTS[0], [PARTS[1], tmp_path / "f.onnx"], tmp_path / "out")
    assert proc.returncode != 0 and "functions" in proc.stderr and "f.onnx" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_composite_input_is_not_evaluated(tmp_path):
    """Only the composed model has the whole graph: a CompositeModel input is not evaluated (a
    warning says so), the output is."""
    metrics = {"e": {"metrics": [{"name": "size", "type": "size_on_disk",
                                  "sub_types": [{"name": "size_on_disk", "priority": 1, "higher_is_better": False}]}]}}
    proc = workflow(tmp_path, PARTS, {"compose": {"type": "ComposeOnnxModels"}})
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg.update(evaluators=metrics, evaluator="e", evaluate_input_model=True)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(tmp_path / "config.json")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "CompositeModel" in proc.stderr and "not evaluated" in proc.stderr, proc.stderr
    size = os.path.getsize(tmp_path / "out" / "model.onnx")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())  # the output's metrics are written
    assert str(size) in proc.stdout


def test_cache_dir_holding_a_component_refused(tmp_path):
    """Cleaning the cache must never touch a component's files: a cache_dir that holds one is
    refused before any work."""
    inside = tmp_path / "cache"
    inside.mkdir()
    (inside / "c.onnx").write_bytes(open(PARTS[2], "rb").read())
    cfg = {"input_model": {"type": "CompositeModel",
                           "model_components": [{"type": "ONNXModel", "model_path": p}
                                                for p in (PARTS[0], PARTS[1], str(inside / "c.onnx"))],
                           "model_component_names": ["a", "b", "c"]},
           "passes": {"compose": {"type": "ComposeOnnxModels"}}, "clean_cache": True,
           "output_dir": str(tmp_path / "out"), "cache_dir": str(inside)}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(tmp_path / "config.json")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "cache_dir" in proc.stderr and "c.onnx" in proc.stderr, proc.stderr
    assert (inside / "c.onnx").read_bytes() == open(PARTS[2], "rb").read()
    assert not (tmp_path / "out").exists()
