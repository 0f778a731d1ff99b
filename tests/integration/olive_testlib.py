"""Helpers the integration tests share: running a pass through $OLIVE_APPLY_PASS, the
single-MatMul models the weight quantizers are checked on, onnxruntime sessions and the
references of onnxruntime's quantizers, reading what a command draws on a terminal, and for the
convert and checkpoint tests: running the convert pass, onnx's checker on decoders, reading
safetensors files, onnxruntime-genai's greedy generation, Llama 3 rope factors, and
$OLIVE_CHECKPOINT_DUMP's listings and values.

Test modules import this after their pytest.importorskip lines, so that a missing onnx or
onnxruntime skips them instead of failing their collection. (tests/data/quant/make_hqq.py
takes its weights and model from here too: the hqq test regenerates the large ones.)"""

import hashlib
import json
import os
import pathlib
import pty
import select
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

APPLY_PASS = os.environ.get("OLIVE_APPLY_PASS")


def make_model(nodes, inputs, outputs, initializers=(), opset=17, value_info=(), ir_version=8):
    """A model of one graph, checked with onnx's full checker."""
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers), value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    onnx.checker.check_model(model, full_check=True)
    return model


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def apply_pass(pass_name, model, tmp_path, *params, expect_ok=True, full_check=False, timeout=120, check=True):
    """Runs $OLIVE_APPLY_PASS `pass_name` (a pass name or alias) on `model` with the key=value
    `params`, from tmp_path/in.onnx to tmp_path/out.onnx.

    expect_ok: the run must succeed; returns the output model, which must pass onnx's checker
    (with shape inference when full_check) unless check is false. Otherwise returns (the finished process, the output
    path); an output left by an earlier run is removed first, so that the caller can see that a
    failed run writes none."""
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    if dst.exists():
        dst.unlink()
    proc = subprocess.run([APPLY_PASS, pass_name, str(src), str(dst), *params], capture_output=True, text=True,
                          timeout=timeout)
    if not expect_ok:
        return proc, dst
    assert proc.returncode == 0, f"apply_pass failed ({proc.returncode}): {proc.stderr.strip()}"
    out = onnx.load(str(dst))
    if check:
        onnx.checker.check_model(out, full_check=full_check)
    return out


def outlier_weight(k, n, seed, dtype=np.float32, scale=1.0, constant_column=None):
    """A random MatMul weight [k, n]: standard normal times `scale`, four entries 8 times larger
    (outliers, as real weights have); with `constant_column`, the last column holds that value
    when n > 2 (constant blocks). A seed always gives the same weight (numpy's default_rng)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((k, n)).astype(np.float32) * scale
    idx = rng.integers(0, k, 4), rng.integers(0, n, 4)
    w[idx] *= 8.0
    if constant_column is not None and n > 2:
        w[:, n - 1] = constant_column
    return w.astype(dtype)


def matmul_model(w, name="mm"):
    """Y = MatMul(A [3, K], W) with the weight W [K, N] an initializer, all in W's type (float or
    float16); opset 17, IR 8."""
    k, n = w.shape
    elem = TensorProto.FLOAT if w.dtype == np.float32 else TensorProto.FLOAT16
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W"], ["Y"], name=name)], "g",
        [helper.make_tensor_value_info("A", elem, [3, k])], [helper.make_tensor_value_info("Y", elem, [3, n])],
        initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def set_weight_value(model, index, value):
    """Writes `value` (e.g. inf or NaN) at `index` of the model's first initializer."""
    t = model.graph.initializer[0]
    w = numpy_helper.to_array(t).copy()
    w[index] = value
    t.CopyFrom(numpy_helper.from_array(w, t.name))


def session(model):
    """An onnxruntime CPU session on `model` that logs errors only."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def run_matmul(model, a):
    """Output Y of a matmul_model (or its quantized form) for input A = a."""
    return session(model).run(None, {"A": a})[0]


def cosine(a, b):
    """Cosine similarity of two arrays, in float64."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def ort_quantize_dynamic(model, tmp_path, ops, **kw):
    """onnxruntime's quantize_dynamic of `model` on the op types `ops`, with its keyword
    arguments `kw` (a weight_type given by name, as "QUInt8", becomes its QuantType)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if "weight_type" in kw:
        kw["weight_type"] = QuantType[kw["weight_type"]]
    src, dst = tmp_path / "ref_in.onnx", tmp_path / "ref.onnx"
    onnx.save(model, str(src))
    quantize_dynamic(str(src), str(dst), op_types_to_quantize=ops, **kw)
    return onnx.load(str(dst))


def run_on_terminal(argv, timeout, cwd=None):
    """Runs `argv` with its standard error on a new pseudo-terminal (its standard output on a
    pipe) and reads what it draws there until it closes it. Returns (exit status, the bytes
    drawn on the terminal, the standard output as text). Fails when nothing comes for
    `timeout` seconds."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        shown = b""
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                proc.communicate()
                raise AssertionError(f"no output from {argv[0]} on the terminal")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        stdout = proc.communicate(timeout=timeout)[0].decode()
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return proc.returncode, shown, stdout


def run_convert(cli, src, out, *params, expect_ok=True):
    """`olive run-pass --pass convert` from `src` to `out`, each param a "key=value"."""
    args = [cli, "run-pass", "--pass", "convert", "-m", str(src), "-o", str(out)]
    for p in params:
        args += ["--param", p]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    # Under the sanitizer build a leak or undefined behaviour shows on stderr even when the
    # exit status is that of an ordinary failure.
    for alarm in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert alarm not in proc.stderr, proc.stderr
    if expect_ok:
        assert proc.returncode == 0, f"convert failed: {proc.stderr.strip()}"
    return proc


def check_with_contrib_layernorm(path):
    """The model at `path`, after onnx's checker passed it. ONNX Runtime (and onnxruntime-genai's
    builder) registers SimplifiedLayerNormalization in the default domain, which ONNX's schemas
    lack: the checker sees a copy where it is the contrib op, and everything else as written."""
    model = onnx.load(str(path))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for n in probe.graph.node:
        if n.op_type == "SimplifiedLayerNormalization" and n.domain in ("", "ai.onnx"):
            n.domain = "com.microsoft"
    onnx.checker.check_model(probe)
    return model


def read_safetensors(path):
    """name -> float32 array, for the F32 / F16 / BF16 tensors of a safetensors file: an 8-byte
    little-endian header length, a JSON header of name -> dtype/shape/offsets, then the data."""
    raw = pathlib.Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        buf = raw[8 + n + a:8 + n + b]
        if meta["dtype"] == "BF16":
            v = (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            v = np.frombuffer(buf, {"F32": "<f4", "F16": "<f2"}[meta["dtype"]]).astype(np.float32)
        out[name] = v.reshape(meta["shape"])
    return out


def genai_greedy(folder, prompt, new_tokens):
    """onnxruntime-genai's greedy sequence, prompt included, of exactly len(prompt) + new_tokens
    tokens from the model folder (skips when onnxruntime-genai is not installed)."""
    import pytest
    og = pytest.importorskip("onnxruntime_genai")
    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(prompt) + new_tokens, min_length=len(prompt) + new_tokens)
    gen = og.Generator(model, params)
    gen.append_tokens(np.asarray([prompt], dtype=np.int32))
    while not gen.is_done():
        gen.generate_next_token()
    return [int(t) for t in gen.get_sequence(0)]


def llama3_rope_factors(freqs, factor, low, high, orig):
    """Llama 3.1 rope scaling's factor for each inverse frequency, as llama.cpp's converter
    stores them in rope_freqs.weight: 1 for short wavelengths, `factor` for long ones, smoothly
    between (low / high: low_freq_factor / high_freq_factor; orig: the original context)."""
    out = []
    for f in np.asarray(freqs, np.float64):
        wavelen = 2 * np.pi / f
        if wavelen < orig / high:
            out.append(1.0)
        elif wavelen > orig / low:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, np.float32)


CHECKPOINT_DUMP = os.environ.get("OLIVE_CHECKPOINT_DUMP")


def run_checkpoint_dump(*args, timeout=300):
    """$OLIVE_CHECKPOINT_DUMP with args (paths as str), its output captured."""
    return subprocess.run([CHECKPOINT_DUMP, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def dump_checkpoint(path):
    """What checkpoint_dump lists for the checkpoint at path (JSON: tensors, config, ...)."""
    proc = run_checkpoint_dump(path)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def dump_tensor(path, name, out, first=None, rows=None):
    """Tensor `name` of the checkpoint at path as float32 values (written to `out` on the way),
    all rows or `rows` from `first`."""
    extra = [] if first is None else ["--first-row", first, "--rows", rows]
    proc = run_checkpoint_dump(path, "--tensor", name, "--out", out, *extra)
    assert proc.returncode == 0, proc.stderr
    return np.fromfile(out, dtype="<f4")


def gemma2_forward(weights, cfg, ids):
    """Gemma 2's forward pass in numpy, written from the architecture's definition (float64): the
    embeddings scaled by sqrt(hidden), RMSNorms with (1 + w), rotary embeddings (rotate-half),
    grouped-query attention scaled by query_pre_attn_scalar ** -0.5 and soft-capped, a sliding
    window on "sliding_attention" layers, post-attention / pre- and post-feed-forward norms, a
    gelu(tanh) gated MLP, the final norm, the tied lm_head and the final soft-cap. Returns
    (logits [1, seq, vocab], [(key, value)] per layer as [1, kv_heads, seq, head_dim], rotated
    keys). Checked against transformers' recorded outputs (test_convert_gguf.py) before it
    serves as a reference."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    ids = np.asarray(ids).reshape(-1)
    n, hidden = len(ids), cfg["hidden_size"]
    heads, kv_heads, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    theta = (cfg.get("rope_parameters") or {}).get("rope_theta", cfg.get("rope_theta", 10000.0))
    layer_types = cfg.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention"
                                             for i in range(cfg["num_hidden_layers"])]

    def norm(x, weight):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * (1.0 + weight)

    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], -1)
        return x * cos + rotated * sin

    def softcap(x, cap):
        return np.tanh(x / cap) * cap if cap else x

    inv_freq = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    angles = np.outer(np.arange(n, dtype=np.float64), inv_freq)
    cos, sin = np.cos(np.concatenate([angles, angles], -1)), np.sin(np.concatenate([angles, angles], -1))
    x = w["model.embed_tokens.weight"][ids] * np.float64(np.float32(hidden ** 0.5))
    pos = np.arange(n)
    caches = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = norm(x, w[p + "input_layernorm.weight"])
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(n, heads, hd).transpose(1, 0, 2)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(n, kv_heads, hd).transpose(1, 0, 2)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(n, kv_heads, hd).transpose(1, 0, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        caches.append((k[None], v[None]))
        allowed = pos[None, :] <= pos[:, None]
        if layer_types[i] == "sliding_attention":
            allowed &= pos[:, None] - pos[None, :] < cfg["sliding_window"]
        out = np.empty((heads, n, hd))
        for hh in range(heads):
            kk, vv = k[hh // (heads // kv_heads)], v[hh // (heads // kv_heads)]
            scores = softcap(q[hh] @ kk.T * cfg["query_pre_attn_scalar"] ** -0.5, cfg.get("attn_logit_softcapping"))
            scores = np.where(allowed, scores, -np.inf)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            out[hh] = (probs / probs.sum(-1, keepdims=True)) @ vv
        attn = out.transpose(1, 0, 2).reshape(n, heads * hd) @ w[p + "self_attn.o_proj.weight"].T
        x = x + norm(attn, w[p + "post_attention_layernorm.weight"])
        h = norm(x, w[p + "pre_feedforward_layernorm.weight"])
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        gelu = 0.5 * gate * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (gate + 0.044715 * gate ** 3)))
        mlp = (gelu * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        x = x + norm(mlp, w[p + "post_feedforward_layernorm.weight"])
    x = norm(x, w["model.norm.weight"])
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    logits = softcap(x @ head.T, cfg.get("final_logit_softcapping"))
    return logits[None], caches


def gemma2_greedy(weights, cfg, prompt, new_tokens):
    """Greedy decoding with gemma2_forward (the whole sequence recomputed at each step)."""
    seq = list(prompt)
    for _ in range(new_tokens):
        logits, _ = gemma2_forward(weights, cfg, seq)
        seq.append(int(logits[0, -1].argmax()))
    return seq


# ---- staging folders: the names libolive gives them, to make stale and live ones in tests ----

def dead_pid():
    """A process id that no process holds any more."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def boot_tag():
    """The owner tag of staging folders: the boot id's first 8 hex digits, or in a pid namespace
    other than the initial one (a container) those of sha256(boot id, namespace link)."""
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read()
    ns = os.readlink("/proc/self/ns/pid")
    if ns != "pid:[4026531836]":
        return hashlib.sha256((boot + ns).encode()).hexdigest()[:8]
    return boot.replace("-", "")[:8]


def start_time(pid):
    """A process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def write_safetensors(path, tensors):
    """name -> float32 array, written as an F32 safetensors file."""
    import struct
    header, at, blobs = {}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t, np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        at += len(b)
        blobs.append(b)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
