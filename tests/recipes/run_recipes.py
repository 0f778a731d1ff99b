"""The olive-recipes acceptance suite: each config in tests/data/recipes/ (written here from the
pattern of the recipe(s) tests/data/recipes/README.md names) runs with `olive run --config` on a
tiny stand-in model, and each result is reported as ran, refused (with the reason) or failed.

A stand-in is a checkpoint of the config's architecture with random weights: the config.json of
a tiny fixture of that architecture (tests/data/convert*/, the real config shape scaled down),
its tokenizer, and new random tensors of the same names, shapes and dtypes, written with numpy
in the safetensors format (no torch). Only the config's model paths are rewritten; the output
folder is given with -o (a recipe may name none). The Hub datasets the configs name (glue/mrpc,
facebook/xnli) come from a loopback dataset viewer serving the made-up rows of
tests/data/recipes/datasets/ (HF_DATASETS_SERVER_ENDPOINT), with an empty HF_HOME per config.

    python run_recipes.py [--write-results FILE] [-k SUBSTRING]

ran:     olive exited 0, and the output loads and runs in onnxruntime (and generates with
         onnxruntime-genai when the folder has a genai_config.json).
ran, ignoring: the same, but olive warned that it ignored settings of the config it does not
         know (named in the result): the output is not all the recipe asks for.
         Metrics measured on a provider this onnxruntime lacks must be marked not measured in
         metrics.json (no value), with olive's warning naming the provider; the result says so.
refused: olive exited 1 with one error line that names what is not supported, and wrote no
         output folder.
failed:  anything else (a crash, an error that names nothing missing, an output that does not
         load or run). The script exits 1 when any config failed.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "data"
RECIPES = DATA / "recipes"
sys.path.insert(0, str(HERE.parent / "integration"))
from datasets_server import DatasetsServer  # noqa: E402
FIXTURES = {
    # architecture -> (fixture folder, model_type and architectures to write, or None to keep)
    "llama": (DATA / "convert" / "llama", None),
    "llama_tied": (DATA / "convert" / "llama_tied", None),
    "mistral": (DATA / "convert" / "mistral", None),
    "qwen2": (DATA / "convert" / "qwen2", None),
    "qwen3": (DATA / "convert" / "qwen3", None),
    "phi3": (DATA / "convert" / "phi3", None),
    "gemma": (DATA / "convert" / "gemma", None),
    "gemma2": (DATA / "convert" / "gemma2", None),
    "bert": (DATA / "convert_encoder" / "bert_model", None),
    "bert_seqcls": (DATA / "convert_encoder" / "bert_seqcls", None),
    # SmolLM3 is llama-shaped with some layers without rotary embeddings; the converter has no
    # smollm3 support, so its stand-in says smollm3 and libolive must refuse it by name.
    "smollm3": (DATA / "convert" / "llama_tied", ("smollm3", "SmolLM3ForCausalLM")),
}
# The encoder fixtures have no tokenizer; their stand-ins get a small WordPiece tokenizer (BERT's
# kind, ids within the fixtures' vocabulary) for the data configs that tokenize text.
TOKENIZERS = {"bert": DATA / "evaluate" / "wp_tokenizer", "bert_seqcls": DATA / "evaluate" / "wp_tokenizer"}
TIMEOUT = 120
DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64, "I32": np.int32}


# ---- stand-in checkpoints ----

def read_safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header


def write_safetensors(path, tensors):
    """tensors: name -> (dtype tag, ndarray)."""
    header, blobs, offset = {}, [], 0
    for name, (tag, arr) in sorted(tensors.items()):
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": tag, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def random_tensor(rng, tag, shape, name):
    if tag not in DTYPES:
        raise ValueError(f"stand-in: tensor {name} has dtype {tag}, which the stand-in maker does not write")
    if tag in ("I64", "I32"):
        return np.zeros(shape, DTYPES[tag])
    values = (rng.standard_normal(shape) * 0.05).astype(np.float32)
    if "norm" in name and name.endswith("weight"):
        values = 1.0 + values  # norms near 1, as trained ones are
    if tag == "BF16":
        return (values.view(np.uint32) >> 16).astype(np.uint16)
    return values.astype(DTYPES[tag])


def make_standin(arch, folder, seed):
    src, rename = FIXTURES[arch]
    folder.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix == ".json" and f.name != "builder_reference.json":
            shutil.copy(f, folder / f.name)
    if arch in TOKENIZERS and not (folder / "tokenizer.json").exists():
        for f in TOKENIZERS[arch].iterdir():
            shutil.copy(f, folder / f.name)
    if rename:
        cfg = json.loads((folder / "config.json").read_text())
        cfg["model_type"], cfg["architectures"] = rename[0], [rename[1]]
        (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    rng = np.random.default_rng(seed)
    header = read_safetensors_header(src / "model.safetensors")
    write_safetensors(folder / "model.safetensors",
                      {name: (h["dtype"], random_tensor(rng, h["dtype"], h["shape"], name)) for name, h in header.items()})


# ---- configs ----

def rewrite_model_path(cfg, standin):
    """Points the input model at the stand-in: model_path (also nested under "config") or an
    older PyTorchModel's hf_config.model_name. Nothing else changes."""
    model = cfg["input_model"]
    fields = model["config"] if isinstance(model.get("config"), dict) else model
    if "model_path" in fields:
        fields["model_path"] = str(standin)
    elif isinstance(fields.get("hf_config"), dict):
        fields["hf_config"]["model_name"] = str(standin)
    else:
        raise ValueError("the config's input_model names no model_path")
    return cfg


# ---- checking outputs ----

def dummy_feeds(sess):
    import onnxruntime as ort  # noqa: F401
    feeds = {}
    types = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
             "tensor(int32)": np.int32, "tensor(bool)": np.bool_}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        if "past" in i.name:  # an empty cache
            shape = [d if isinstance(d, int) and d > 0 else (0 if k == 2 else 1) for k, d in enumerate(i.shape)]
        dtype = types.get(i.type)
        if dtype is None:
            raise ValueError(f"input {i.name} has type {i.type}")
        feeds[i.name] = np.ones(shape, dtype) if "mask" in i.name else np.zeros(shape, dtype)
    return feeds


PROVIDERS = {"CPU": "CPUExecutionProvider", "CUDA": "CUDAExecutionProvider", "DirectML": "DmlExecutionProvider",
             "WebGPU": "WebGpuExecutionProvider", "TensorRT-RTX": "NvTensorRTRTXExecutionProvider"}


def check_output(out, ep):
    """What the output folder holds and that it runs; raises with the reason when it does not.
    A model written for a GPU provider may hold kernels only that provider has (GroupQueryAttention
    with Q/K norms): when this onnxruntime lacks the provider and the CPU cannot run it, loading is
    what is checked, and the result says so."""
    import onnxruntime as ort
    provider = PROVIDERS[ep]
    if provider != "CPUExecutionProvider" and provider not in ort.get_available_providers():
        try:
            return run_output(out)
        except Exception as e:  # noqa: BLE001
            if "only on the" not in str(e) and "not supported" not in str(e):
                raise
            return (f"loads in onnxruntime; not run: needs {provider}, which this onnxruntime lacks "
                    f"({str(e).split('Status Message: ')[-1][:90]})")
    return run_output(out)


def unmeasured_metrics(out, stderr, ep):
    """Metrics a config measures in a session on a provider this onnxruntime lacks: olive must
    warn naming the provider and record each such metric in metrics.json with no value, marked
    not measured; a value there would be a number it could not have measured. Returns what the
    result says about them, or None when the config measures nothing there."""
    import onnxruntime as ort
    provider = PROVIDERS[ep]
    mfile = out / "metrics.json"
    if provider in ort.get_available_providers() or not mfile.is_file():
        return None
    metrics = json.loads(mfile.read_text())
    claimed = [k for k, v in metrics.items() if v.get("value") is not None and not k.startswith("size_on_disk-")]
    if claimed:
        raise ValueError(f"metrics.json gives values for {', '.join(claimed)}, measured on {provider}, "
                         f"which this onnxruntime lacks")
    unmeasured = [k for k, v in metrics.items() if v.get("measured") is False and provider in v.get("reason", "")]
    if not unmeasured:
        return None
    if f"execution provider {provider} is not available" not in stderr:
        raise ValueError(f"metrics not measured on {provider}, but olive did not warn")
    return f"metrics not measured ({', '.join(unmeasured)}): need {provider}, which this onnxruntime lacks"


def run_output(out):
    import onnxruntime as ort
    mc = out / "model_config.json"
    name = "model.onnx"
    if mc.is_file():
        name = json.loads(mc.read_text()).get("config", {}).get("onnx_file_name") or name
    model = out / name
    if not model.is_file():
        raise ValueError(f"no {name} in the output folder")
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    results = sess.run(None, dummy_feeds(sess))
    if not all(np.all(np.isfinite(r.astype(np.float32))) for r in results if r.dtype.kind == "f"):
        raise ValueError("onnxruntime ran it, but the outputs are not finite")
    checked = "onnxruntime"
    if (out / "genai_config.json").is_file():
        import onnxruntime_genai as og
        genai_config = json.loads((out / "genai_config.json").read_text())
        provider_options = genai_config.get("model", {}).get("decoder", {}).get("session_options", {}).get(
            "provider_options", [])
        if provider_options:  # written for a GPU provider: run it on the CPU here
            cfg = og.Config(str(out))
            cfg.clear_providers()
            model_og = og.Model(cfg)
        else:
            model_og = og.Model(str(out))
        params = og.GeneratorParams(model_og)
        params.set_search_options(max_length=8, do_sample=False)
        gen = og.Generator(model_og, params)
        gen.append_tokens([[1, 5, 6, 7]])
        while not gen.is_done():
            gen.generate_next_token()
        checked += " + onnxruntime-genai"
    return checked


# ---- running ----

def refusal_reason(stderr):
    errors = [line[len("olive: error: "):] for line in stderr.splitlines() if line.startswith("olive: error: ")]
    if len(errors) != 1:
        return None
    reason = errors[0].split("; known types:")[0]
    # A search or a ranked choice by metrics measured on a provider this onnxruntime lacks is
    # refused before any work, naming the provider.
    if re.search(r"not supported|is not known|needs |unknown |execution provider \S+ is not available", reason):
        return reason
    return None


def known_pass_types(cli):
    """Every pass type `olive passes` lists: names, aliases and Olive types, lowercased."""
    r = subprocess.run([cli, "passes", "--json"], capture_output=True, text=True, timeout=TIMEOUT, check=True)
    known = set()
    for p in json.loads(r.stdout):
        known.add(p["name"].lower())
        known.update(a.lower() for a in p.get("aliases", []))
        known.update(t["type"].lower() for t in p.get("olive_types", []))
    return known


def missing_pass_types(cfg, known):
    passes = cfg.get("passes") or {}
    entries = [e for v in passes.values() for e in (v if isinstance(v, list) else [v])]
    return sorted({e.get("type", "?") for e in entries if str(e.get("type", "")).lower() not in known})


def start_datasets_server():
    """Serves every tests/data/recipes/datasets/<dataset>.<config>.<split>.jsonl ('--' for '/')."""
    server, found = DatasetsServer(), {}
    for f in sorted((RECIPES / "datasets").glob("*.jsonl")):
        dataset, config, split = f.name[:-len(".jsonl")].rsplit(".", 2)
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        found.setdefault(dataset.replace("--", "/"), {}).setdefault(config, {})[split] = rows
    for dataset, configs in found.items():
        server.add(dataset, configs)
    return server


def run_case(cli, name, meta, work, datasets_url):
    case = work / pathlib.Path(name).stem
    case.mkdir()
    standin = case / "standin"
    make_standin(meta["arch"], standin, seed=len(name))
    cfg = rewrite_model_path(json.loads((RECIPES / name).read_text()), standin)
    (case / "config.json").write_text(json.dumps(cfg, indent=4))
    t0 = time.monotonic()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_HOME=str(case / "hf"), HF_DATASETS_SERVER_ENDPOINT=datasets_url)
        r = subprocess.run([cli, "run", "--config", "config.json", "-o", "out"], cwd=case, env=env,
                           capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "failed", f"no result in {TIMEOUT} s", time.monotonic() - t0
    seconds = time.monotonic() - t0
    if r.returncode == 0:
        # A setting libolive does not know is a warning outside --strict: the run went on without
        # it, so the output is not all the recipe asks for, and the result says what was left out.
        ignored = sorted(set(re.findall(r"unknown (?:parameter|key) '([^']+)'[^\n]*ignored", r.stderr)))
        try:
            checked = check_output(case / "out", meta["ep"])
            unmeasured = unmeasured_metrics(case / "out", r.stderr, meta["ep"])
        except Exception as e:  # noqa: BLE001 - every reason is a failure to report
            return "failed", f"output does not run: {type(e).__name__}: {e}", seconds
        checked = checked if checked.startswith("loads") else "output checked with " + checked
        if unmeasured:
            checked += "; " + unmeasured
        if ignored:
            return "ran, ignoring", f"ignored: {', '.join(ignored)}; {checked}", seconds
        return "ran", checked, seconds
    reason = refusal_reason(r.stderr)
    if r.returncode == 1 and reason and not (case / "out").exists():
        return "refused", reason, seconds
    tail = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
    return "failed", f"exit {r.returncode}: {tail}", seconds


def table(rows):
    lines = ["| config | EP | stands for | result | reason / check | pass types libolive lacks |",
             "|---|---|---|---|---|---|"]
    for name, meta, status, reason, missing in rows:
        lines.append(f"| {name} | {meta['ep']} | {', '.join(meta['stands_for'])} | {status} | "
                     f"{reason.replace('|', '/')} | {', '.join(missing) or '-'} |")
    counts = {s: sum(1 for r in rows if r[2] == s) for s in ("ran", "ran, ignoring", "refused", "failed")}
    lines.append("")
    lines.append(f"ran {counts['ran']}, ran ignoring settings {counts['ran, ignoring']}, refused {counts['refused']}, "
                 f"failed {counts['failed']} of {len(rows)} configs")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-results", metavar="FILE", help="write the results table (markdown) to FILE")
    ap.add_argument("-k", default="", help="only the configs whose file name holds this")
    args = ap.parse_args()
    cli = os.environ.get("OLIVE_CLI")
    if not cli:
        print("OLIVE_CLI is not set (meson test sets it to the built olive tool)", file=sys.stderr)
        return 77
    cli = os.path.abspath(cli)  # the configs run in their own folders
    cases = json.loads((RECIPES / "cases.json").read_text())
    on_disk = sorted(p.name for p in RECIPES.glob("*.json") if p.name != "cases.json")
    if sorted(cases) != on_disk:
        print(f"cases.json and the configs on disk differ: {sorted(set(cases) ^ set(on_disk))}", file=sys.stderr)
        return 1
    rows = []
    known = known_pass_types(cli)
    server = start_datasets_server()
    with tempfile.TemporaryDirectory(prefix="olive-recipes-") as tmp:
        for name in sorted(cases):
            if args.k not in name:
                continue
            status, reason, seconds = run_case(cli, name, cases[name], pathlib.Path(tmp), server.url)
            missing = missing_pass_types(json.loads((RECIPES / name).read_text()), known)
            rows.append((name, cases[name], status, reason, missing))
            print(f"{status:8} {name} ({seconds:.1f} s): {reason}", flush=True)
    server.close()
    text = table(rows)
    print()
    print(text)
    if args.write_results:
        pathlib.Path(args.write_results).write_text(
            "# olive-recipes suite: results\n\nWritten by tests/recipes/run_recipes.py --write-results; "
            "README.md says what each config stands for and what ran / refused / failed mean.\n\n" + text + "\n")
    return 1 if any(r[2] == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
