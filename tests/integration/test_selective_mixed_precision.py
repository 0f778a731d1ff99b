"""Olive's checkpoint-side chain SelectiveMixedPrecision → Rtn → ModelBuilder in a workflow:
the MatMulNBits of the output carry the bits Olive's own selection rule chooses, the codes of
each module equal those of a uniform int4 / int8 conversion with the same group size and
symmetry, and the model runs in onnxruntime and onnxruntime-genai.

The reference selection is Olive's SelectiveMixedPrecision.get_k_quant_config (olive-ai, imported
without torch through olive_reference) over the module names of Olive's ModelWrapper tables; the
test skips that comparison when olive-ai is not installed."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

from olive_reference import import_olive  # noqa: E402
from olive_testlib import genai_greedy, read_safetensors, run_convert, write_safetensors  # noqa: E402

CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (run through meson test)")
DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "convert"


def _import_olive():
    def load():
        from olive.common.hf.wrapper import LayerWrapper, ModelWrapper  # noqa: PLC0415
        from olive.passes.pytorch.selective_mixed_precision import SelectiveMixedPrecision  # noqa: PLC0415
        return SelectiveMixedPrecision, ModelWrapper, LayerWrapper
    return import_olive(load)


OLIVE = _import_olive()


def deep_checkpoint(tmp_path, arch, layers, seed=0):
    """The fixture `arch` with `layers` layers: layer 0's tensor shapes for every layer, new
    random values (scaled like the fixture's), the fixture's config otherwise."""
    src, dst = DATA / arch, tmp_path / f"{arch}_{layers}"
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix == ".json" and f.name != "config.json":
            shutil.copy(f, dst / f.name)
    cfg = json.loads((src / "config.json").read_text())
    cfg["num_hidden_layers"] = layers
    (dst / "config.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(seed)
    out = {}
    for name, t in read_safetensors(src / "model.safetensors").items():
        names = [name]
        if name.startswith("model.layers."):
            if not name.startswith("model.layers.0."):
                continue
            names = [name.replace("model.layers.0.", f"model.layers.{i}.", 1) for i in range(layers)]
        for n in names:
            out[n] = (rng.standard_normal(t.shape) * (float(t.std()) or 1.0) + float(t.mean())).astype(np.float32)
    write_safetensors(dst / "model.safetensors", out)
    return dst


def run_workflow(tmp_path, model, passes, name="run", expect_ok=True):
    cfg = {"input_model": {"type": "HfModel", "model_path": str(model)}, "passes": passes,
           "output_dir": str(tmp_path / name), "cache_dir": str(tmp_path / f"{name}_cache")}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(path)], capture_output=True, text=True, timeout=600)
    for alarm in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert alarm not in proc.stderr, proc.stderr
    if expect_ok:
        assert proc.returncode == 0, proc.stderr
    return proc, tmp_path / name


def linears(folder):
    """Node path ("/model/layers.0/mlp/down_proj") -> (op type, bits or None, node, model)."""
    m = onnx.load(str(folder / "model.onnx"))
    out = {}
    for n in m.graph.node:
        if n.op_type in ("MatMulNBits", "MatMul") and "/MatMul" in n.name:
            attrs = {a.name: a.i for a in n.attribute}
            out[n.name.rsplit("/", 1)[0]] = (n.op_type, attrs.get("bits"), n)
    return out, m


def olive_selection(algorithm, model_type, n_layers, high_bits=8):
    """Olive's k-quant overrides (module name -> bits) from its own function and name tables."""
    smp, mw, lw = OLIVE

    class Layer:
        def get_attention_inputs(self, return_name=True):
            names = lw.ATTENTION_INPUTS.get(model_type, lw.ATTENTION_INPUTS["default"])
            return None, [f"{lw.ATTENTION['default']}.{x}" for x in names]

        def get_mlp_outputs(self, return_name=True):
            names = lw.MLP_OUTPUTS.get(model_type, lw.MLP_OUTPUTS["default"])
            return None, [f"{lw.MLP['default']}.{x}" for x in names]

    class Wrapper:
        num_hidden_layers = n_layers

        def get_lm_head(self, return_name=True):
            return None, mw.LM_HEAD["default"]

        def get_layers(self, return_name=True):
            return None, mw.LAYERS.get(model_type, mw.LAYERS["default"])

        def get_layer_wrappers(self):
            return [Layer() for _ in range(n_layers)]

    default, overrides = smp.get_k_quant_config(Wrapper(), algorithm, 4, high_bits)
    assert default == {"bits": 4}
    return {name: o["bits"] for name, o in overrides.items()}


def node_of(module):
    """The converter's MatMul path of an Olive module name (q/k/v are packed into qkv_proj)."""
    if module == "lm_head":
        return "/lm_head"
    parts = module.split(".")  # model.layers.<i>.<block>.<proj>
    i, block, proj = parts[2], parts[3], parts[4]
    if block == "self_attn":
        return f"/model/layers.{i}/attn/{'o_proj' if proj == 'o_proj' else 'qkv_proj'}"
    return f"/model/layers.{i}/mlp/{proj}"


@pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed (scripts/requirements-olive.txt)")
@pytest.mark.parametrize("algorithm", ["k_quant_mixed", "k_quant_down", "k_quant_last"])
def test_bits_follow_olives_selection(tmp_path, algorithm):
    layers = 16
    model = deep_checkpoint(tmp_path, "llama", layers)
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": algorithm, "bits": 4, "high_bits": 8},
              "r": {"type": "Rtn", "bits": 4, "group_size": 32, "sym": False, "lm_head": True},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    _, out = run_workflow(tmp_path, model, passes)
    got, _ = linears(out)
    expected = {node_of(m): b for m, b in olive_selection(algorithm, "llama", layers).items()}
    assert len(got) == 5 * layers + 1  # qkv, o, gate, up, down; the head
    for path, (op, bits, _) in got.items():
        assert op == "MatMulNBits", path
        assert bits == expected.get(path, 4), path
    # the rule is not trivial on 16 layers: some layers are promoted, others not
    high = sum(b == 8 for _, b, _ in got.values())
    assert high == 1 if algorithm == "k_quant_last" else 1 < high < len(got) // 2


@pytest.mark.parametrize("newer,first", [("high_precision_mlp_down_qkv", "k_quant_mixed"),
                                         ("high_precision_mlp_down", "k_quant_down"),
                                         ("high_precision_lm_head", "k_quant_last")])
def test_newer_rule_names_select_as_the_first_ones(tmp_path, newer, first):
    """Newer Olive's names of the layer-position rules (its docs list high_precision_lm_head,
    high_precision_mlp_down and high_precision_mlp_down_qkv where 0.13 has k_quant_last,
    k_quant_down and k_quant_mixed) give the bits of the rule under its first name, which the
    test above checks against Olive's own function."""
    model = deep_checkpoint(tmp_path, "llama", 16)
    bits = {}
    for alg in (newer, first):
        passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": alg, "bits": 4, "high_bits": 8},
                  "r": {"type": "Rtn", "bits": 4, "group_size": 32, "sym": False, "lm_head": True},
                  "m": {"type": "ModelBuilder", "precision": "int4"}}
        _, out = run_workflow(tmp_path, model, passes, name=alg)
        got, _ = linears(out)
        bits[alg] = {path: b for path, (_, b, _) in got.items()}
    assert bits[newer] == bits[first]
    assert any(b == 8 for b in bits[newer].values()) and any(b == 4 for b in bits[newer].values())


def test_codes_equal_uniform_conversions(tmp_path):
    """Each module's codes, scales and zero points are those of a uniform int4 / int8
    conversion with the same group size and symmetry; overrides win over the selection; the head
    stays float when Rtn's lm_head is false."""
    model = deep_checkpoint(tmp_path, "llama", 9, seed=3)
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": "k_quant_down"},
              "r": {"type": "rtn", "bits": 4, "group_size": 32, "sym": False,
                    "overrides": {"model.layers.1.mlp.gate_proj": {"bits": 8},
                                  "model.layers.0.mlp.down_proj": {"bits": 4}}},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    _, out = run_workflow(tmp_path, model, passes)
    got, m = linears(out)
    # k_quant_down on 9 layers (Olive's rule: idx < 9/8, idx >= 63/8, (idx - 9 // 8) % 3 == 2):
    # 0, 1, 3, 6, 8; the override keeps layer 0's down_proj at 4 bits and adds a gate_proj
    eight = {f"/model/layers.{i}/mlp/down_proj" for i in (1, 3, 6, 8)} | {"/model/layers.1/mlp/gate_proj"}
    assert got["/lm_head"][0] == "MatMul"
    for path, (op, bits, _) in got.items():
        if path != "/lm_head":
            assert (op, bits) == ("MatMulNBits", 8 if path in eight else 4), path
    uniform = {}
    for bits in (4, 8):
        run_convert(CLI, model, tmp_path / f"int{bits}", f"precision=int{bits}", "block_size=32",
                    "is_symmetric=false")
        uniform[bits] = linears(tmp_path / f"int{bits}")
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for path, (op, bits, node) in got.items():
        if op != "MatMulNBits":
            continue
        ref_got, ref_model = uniform[bits]
        ref_inits = {t.name: t for t in ref_model.graph.initializer}
        ref_node = ref_got[path][2]
        for mine, theirs in zip(node.input[1:], ref_node.input[1:]):
            np.testing.assert_array_equal(inits[mine], numpy_helper.to_array(ref_inits[theirs]), err_msg=path)
    # it runs in onnxruntime-genai, as a decoder folder
    assert len(genai_greedy(out, [1, 5, 9], 4)) == 7


def test_tied_qwen3_runs_in_genai(tmp_path):
    """qwen3 (tied embeddings, q/k norms): the plan with an 8-bit head runs and generates."""
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": "k_quant_mixed"},
              "r": {"type": "Rtn", "bits": 4, "group_size": 32, "lm_head": True,
                    "overrides": {"lm_head": {"bits": 8}}},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    _, out = run_workflow(tmp_path, DATA / "qwen3", passes)
    got, _ = linears(out)
    assert got["/lm_head"][:2] == ("MatMulNBits", 8)
    assert got["/model/layers.0/attn/qkv_proj"][:2] == ("MatMulNBits", 8)  # layer 0 of 2 is promoted
    assert got["/model/layers.1/attn/qkv_proj"][:2] == ("MatMulNBits", 4)
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].name == "input_ids"
    seq = genai_greedy(out, [1, 2, 3], 5)
    assert len(seq) == 8


@pytest.mark.parametrize("settings,expect", [
    ({"ratio": 0.5}, "in_features 64 of 'model.layers.0.self_attn.q_proj.weight' is not a multiple of group_size 128"),
    ({"group_size": 32}, "passes.s.ratio: snr needs a ratio between 0 and 1"),
    ({"group_size": 32, "ratio": 0.5, "high_sym": "maybe"}, "passes.s.high_sym: expected true, false or null"),
])
def test_scored_bad_settings(tmp_path, settings, expect):
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": "snr", **settings},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    proc, out = run_workflow(tmp_path, DATA / "llama", passes, expect_ok=False)
    assert proc.returncode != 0 and expect in proc.stderr
    assert not out.exists()


def gptq_without_data(tmp_path, env):
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": "k_quant_mixed"},
              "g": {"type": "gptq", "bits": 4},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "llama")}, "passes": passes,
           "output_dir": str(tmp_path / "run"), "cache_dir": str(tmp_path / "run_cache")}
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    return subprocess.run([CLI, "run", "--config", str(tmp_path / "run.json")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HOME": str(tmp_path / "hf"), **env})


def test_gptq_without_data_offline_names_olives_default_dataset(tmp_path):
    """Without a data_config, Gptq on a Hugging Face model calibrates on Olive's default data
    (wikitext-2 from the Hub); offline and not cached, that is an error naming it, before any work."""
    proc = gptq_without_data(tmp_path, {"HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0 and "Salesforce/wikitext" in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "run_cache").exists()


def test_gptq_without_data_calibrates_on_olives_default_dataset(tmp_path):
    """The same config with the dataset served: the first 1000 rows of wikitext-2's train split
    are asked for, and GPTQ quantizes the Linears (4 and 8 bits as the selection says)."""
    from datasets_server import DatasetsServer
    words = "the model reads text and the quantizer learns from it while a tokenizer cuts it".split()
    rows = [{"text": " ".join(words[(i + j) % len(words)] for j in range(40)) + "\n"} for i in range(300)]
    server = DatasetsServer()
    server.add("Salesforce/wikitext", {"wikitext-2-raw-v1": {"train": rows}})
    try:
        proc = gptq_without_data(tmp_path, {"HF_DATASETS_SERVER_ENDPOINT": server.url})
        asked = server.rows_requests()
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    assert "Olive's default calibration data" in proc.stdout + proc.stderr
    assert asked and all(q["dataset"] == "Salesforce/wikitext" and q["config"] == "wikitext-2-raw-v1" and
                         q["split"] == "train" for q in asked)
    found, _ = linears(tmp_path / "run")
    bits = {b for op, b, _ in found.values() if op == "MatMulNBits"}
    assert bits == {4, 8}, found


def test_plan_needs_a_quantized_model_builder(tmp_path):
    passes = {"r": {"type": "Rtn"}, "m": {"type": "ModelBuilder", "precision": "fp16"}}
    proc, out = run_workflow(tmp_path, DATA / "llama", passes, expect_ok=False)
    assert proc.returncode != 0 and "needs precision int4 or int8" in proc.stderr
    passes = {"r": {"type": "Rtn"}}
    proc, out = run_workflow(tmp_path, DATA / "llama", passes, name="alone", expect_ok=False)
    assert proc.returncode != 0 and "a ModelBuilder pass must follow it" in proc.stderr


@pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed (scripts/requirements-olive.txt)")
@pytest.mark.parametrize("gptq_head", [False, True])
def test_selection_gptq_rtn_chain(tmp_path, gptq_head):
    """Olive's recipe order SelectiveMixedPrecision → Gptq → Rtn → ModelBuilder: GPTQ runs after
    the conversion on the float Linears with the selection's bits per node (calibrated on a
    local text file), Rtn's part quantizes the head at 8 bits as a uniform int8 conversion does
    (or, with Gptq's lm_head, GPTQ does, with the selection's 8 bits for it), the plan leaves no
    metadata behind, and the folder generates in onnxruntime-genai."""
    layers = 16
    model = deep_checkpoint(tmp_path, "llama", layers, seed=4)
    (tmp_path / "corpus.txt").write_text("The quick brown fox jumps over the lazy dog.\n" * 80)
    cfg = {"input_model": {"type": "HfModel", "model_path": str(model)},
           "data_configs": [{"name": "calib", "type": "HuggingfaceContainer",
                             "load_dataset_config": {"data_name": "text", "data_files": str(tmp_path / "corpus.txt"),
                                                     "split": "train"},
                             "pre_process_data_config": {"type": "text_generation_huggingface_pre_process",
                                                         "model_name": str(model), "max_seq_len": 32,
                                                         "max_samples": 8, "use_attention_mask": True}}],
           "passes": {"s": {"type": "SelectiveMixedPrecision", "algorithm": "k_quant_mixed", "bits": 4,
                            "high_bits": 8},
                      "g": {"type": "gptq", "bits": 4, "sym": False, "group_size": 32, "data_config": "calib",
                            "lm_head": gptq_head},
                      "r": {"type": "rtn", "bits": 8, "sym": False, "group_size": 32, "lm_head": True,
                            "overrides": {"lm_head": {"bits": 8}}},
                      "m": {"type": "ModelBuilder", "precision": "int4"}},
           "output_dir": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache")}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(tmp_path / "cfg.json")], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    got, m = linears(out)
    expected = {node_of(mod): b for mod, b in olive_selection("k_quant_mixed", "llama", layers).items()}
    assert len(got) == 5 * layers + 1
    for path, (op, bits, _) in got.items():
        assert (op, bits) == ("MatMulNBits", expected.get(path, 4)), path
    assert not [p.key for p in m.metadata_props if p.key.startswith("olive.")]
    run_convert(CLI, model, tmp_path / "rtn4", "precision=int4", "block_size=32", "is_symmetric=false")
    run_convert(CLI, model, tmp_path / "rtn8", "precision=int8", "block_size=32", "is_symmetric=false")
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    differs = 0
    for path, (_, bits, node) in got.items():
        ref_got, ref_model = linears(tmp_path / f"rtn{bits}")
        ref_inits = {t.name: numpy_helper.to_array(t) for t in ref_model.graph.initializer}
        same = np.array_equal(inits[node.input[1]], ref_inits[ref_got[path][2].input[1]])
        if path == "/lm_head" and not gptq_head:
            assert same  # Rtn's part: round to nearest
        else:
            differs += not same  # GPTQ's: error feedback moves codes away from round to nearest
    assert differs == len(got) - (0 if gptq_head else 1)
    assert len(genai_greedy(out, [1, 5, 9], 4)) == 7


@pytest.mark.parametrize("bits,sym", [(8, False), (4, False), (4, True)])
def test_rtn_embeds_gather_block_quantized(tmp_path, bits, sym):
    """Rtn embeds=true: the table becomes GatherBlockQuantized with the planned bits; onnxruntime
    gathers rows within half a quantization step of the checkpoint's, and the folder generates."""
    from onnx import TensorProto, helper
    passes = {"r": {"type": "Rtn", "bits": 4, "group_size": 32, "sym": sym, "lm_head": True, "embeds": True,
                    "overrides": {"model.embed_tokens": {"bits": bits}}},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    _, out = run_workflow(tmp_path, DATA / "qwen3", passes)
    m = onnx.load(str(out / "model.onnx"))
    gbq = next(n for n in m.graph.node if n.op_type == "GatherBlockQuantized")
    assert {a.name: a.i for a in gbq.attribute}["bits"] == bits
    assert (len(gbq.input) == 4) != sym
    reshape = next(n for n in m.graph.node if n.output[0] == gbq.input[0])
    keep = set(reshape.input) | set(gbq.input[2:])
    inits = [t for t in m.graph.initializer if t.name in keep]
    graph = helper.make_graph([reshape, gbq], "g", [helper.make_tensor_value_info("input_ids", TensorProto.INT64,
                                                                                     [1, "s"])],
                              [helper.make_tensor_value_info(gbq.output[0], TensorProto.FLOAT, None)],
                              initializer=inits + [t for t in m.graph.initializer if t.name == reshape.input[1]])
    small = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("com.microsoft", 1)])
    ids = np.array([[0, 3, 17, 100]], np.int64)
    got = ort.InferenceSession(small.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"input_ids": ids})[0][0]
    table = read_safetensors(DATA / "qwen3" / "model.safetensors")["model.embed_tokens.weight"]
    scales = numpy_helper.to_array(next(t for t in inits if t.name == gbq.input[2]))[ids[0]]
    step = np.abs(np.repeat(scales, 32, axis=1)[:, :table.shape[1]])  # MLAS symmetric scales may be negative
    assert np.all(np.abs(got - table[ids[0]]) <= step / 2 + 1e-6)
    assert np.abs(got - table[ids[0]]).max() > 0  # it is quantized
    assert len(genai_greedy(out, [1, 2, 3], 3)) == 6


@pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed (scripts/requirements-olive.txt)")
@pytest.mark.parametrize("recipe,arch", [("decoder_cpu_int4_selective_gptq_rtn.json", "llama_tied"),
                                         ("decoder_webgpu_int4_selective_gptq_rtn.json", "qwen2")])
def test_recipe_chain_with_a_rule_and_local_data(tmp_path, recipe, arch):
    """The recipe configs of the acceptance suite, offline and quick: a layer rule (k_quant_mixed)
    for kld_gradient (test_kld_gradient.py checks that one), and a local text file as Gptq's
    calibration data (Olive's default is a Hub dataset). The whole chain runs:
    SelectiveMixedPrecision → gptq → rtn (8-bit head and embeddings) → ModelBuilder int4 →
    GraphSurgeries TieWordEmbeddings. For WebGPU the model has float16 activations: GPTQ runs on
    a float32 CPU copy inside the conversion (test_gptq_float16.py checks its codes)."""
    cfg = json.loads((DATA.parent / "recipes" / recipe).read_text())
    model = DATA / arch
    (tmp_path / "corpus.txt").write_text("The quick brown fox jumps over the lazy dog.\n" * 80)
    cfg["input_model"]["model_path"] = str(model)
    cfg["passes"]["s"]["algorithm"] = "k_quant_mixed"
    cfg["passes"]["g"]["data_config"] = "calib"
    cfg["data_configs"] = [{"name": "calib", "type": "HuggingfaceContainer",
                            "load_dataset_config": {"data_name": "text", "data_files": str(tmp_path / "corpus.txt"),
                                                    "split": "train"},
                            "pre_process_data_config": {"type": "text_generation_huggingface_pre_process",
                                                        "model_name": str(model), "max_seq_len": 32,
                                                        "max_samples": 8, "use_attention_mask": True}}]
    cfg["output_dir"], cfg["cache_dir"] = str(tmp_path / "out"), str(tmp_path / "cache")
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(tmp_path / "cfg.json")], capture_output=True, text=True,
                          timeout=600)
    out = tmp_path / "out"
    assert proc.returncode == 0, proc.stderr
    got, m = linears(out)
    layers = json.loads((model / "config.json").read_text())["num_hidden_layers"]
    expected = {node_of(mod): b for mod, b in olive_selection("k_quant_mixed", arch, layers).items()}
    for path, (op, bits, _) in got.items():
        assert (op, bits) == ("MatMulNBits", expected.get(path, 4)), path
    gbq = [n for n in m.graph.node if n.op_type == "GatherBlockQuantized"]
    assert len(gbq) == 1 and {a.name: a.i for a in gbq[0].attribute}["bits"] == 8
    ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    if "webgpu" not in recipe:  # onnxruntime-genai here has no WebGPU provider
        assert len(genai_greedy(out, [1, 2, 3], 3)) == 6


SCORED = json.loads((DATA.parent / "smp" / "scored.json").read_text())


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("algorithm", ["snr", "snr_relative", "iqe", "iqe_relative"])
@pytest.mark.parametrize("case", ["g32_asym_r07", "g16_sym_r05"])
def test_scored_selection_equals_olives(tmp_path, arch, algorithm, case):
    """The weight-scored algorithms promote the modules Olive 0.13 promotes on the same checkpoint
    (recorded with torch by tests/data/smp/make_scored.py), with the high group size and
    symmetry, and the others keep the selection's own."""
    ref = SCORED[arch][algorithm][case]
    st = ref["settings"]
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": algorithm, "bits": st["bits"],
                    "group_size": st["group_size"], "sym": st["sym"], "high_bits": st["high_bits"],
                    "high_group_size": st["high_group_size"], "high_sym": st["high_sym"], "ratio": st["ratio"]},
              "r": {"type": "Rtn", "bits": 4, "group_size": 128, "lm_head": True},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    _, out = run_workflow(tmp_path, DATA / arch, passes)
    got, m = linears(out)
    high = {node_of(mod) for mod in ref["promoted"]}
    for path, (op, bits, node) in got.items():
        block = {a.name: a.i for a in node.attribute}["block_size"]
        zps = len(node.input) == 4
        if path in high:
            assert (bits, block, zps) == (st["high_bits"], st["high_group_size"], not st["high_sym"]), path
        else:
            assert (bits, block, zps) == (st["bits"], st["group_size"], not st["sym"]), path
    assert len(genai_greedy(out, [1, 2, 3], 2)) == 5


def test_scored_per_channel_is_refused(tmp_path):
    """Olive's group_size -1 (per channel) has no MatMulNBits block size: refused, nothing written."""
    passes = {"s": {"type": "SelectiveMixedPrecision", "algorithm": "snr", "group_size": -1, "ratio": 0.9},
              "m": {"type": "ModelBuilder", "precision": "int4"}}
    proc, out = run_workflow(tmp_path, DATA / "llama", passes, expect_ok=False)
    assert proc.returncode != 0 and "group_size" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("case", ["g32_asym_r07", "g16_sym_r05"])
def test_scored_selection_with_gptq(tmp_path, case):
    """A scored selection before Gptq: GPTQ quantizes the promoted modules with the high bits and
    group size, the others with the selection's defaults (which win over Gptq's own, as in
    Olive); a high_sym other than sym is refused, since GPTQ takes one symmetry."""
    ref = SCORED["llama"]["snr"][case]
    st = ref["settings"]
    (tmp_path / "corpus.txt").write_text("The quick brown fox jumps over the lazy dog.\n" * 80)
    cfg = {"input_model": {"type": "HfModel", "model_path": str(DATA / "llama")},
           "data_configs": [{"name": "calib", "type": "HuggingfaceContainer",
                             "load_dataset_config": {"data_name": "text", "data_files": str(tmp_path / "corpus.txt"),
                                                     "split": "train"},
                             "pre_process_data_config": {"type": "text_generation_huggingface_pre_process",
                                                         "model_name": str(DATA / "llama"), "max_seq_len": 32,
                                                         "max_samples": 8, "use_attention_mask": True}}],
           "passes": {"s": {"type": "SelectiveMixedPrecision", "algorithm": "snr", "bits": st["bits"],
                            "group_size": st["group_size"], "sym": st["sym"], "high_bits": st["high_bits"],
                            "high_group_size": st["high_group_size"], "high_sym": st["high_sym"],
                            "ratio": st["ratio"]},
                      "g": {"type": "Gptq", "bits": 8, "group_size": 128, "sym": True, "data_config": "calib"},
                      "m": {"type": "ModelBuilder", "precision": "int4"}},
           "output_dir": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache")}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    proc = subprocess.run([CLI, "run", "--config", str(tmp_path / "cfg.json")], capture_output=True, text=True,
                          timeout=600)
    if st["high_sym"] != st["sym"]:
        assert proc.returncode != 0 and "passes.g: Gptq takes one symmetry" in proc.stderr
        assert not (tmp_path / "out").exists()
        return
    assert proc.returncode == 0, proc.stderr
    got, _ = linears(tmp_path / "out")
    high = {node_of(mod) for mod in ref["promoted"]}
    assert got["/lm_head"][0] == "MatMul"  # Olive's Gptq leaves the head to Rtn; there is none here
    for path, (op, bits, node) in got.items():
        if path == "/lm_head":
            continue
        block = {a.name: a.i for a in node.attribute}["block_size"]
        want = (st["high_bits"], st["high_group_size"]) if path in high else (st["bits"], st["group_size"])
        assert (op, bits, block) == ("MatMulNBits", *want), path
        assert (len(node.input) == 4) == (not st["sym"]), path
