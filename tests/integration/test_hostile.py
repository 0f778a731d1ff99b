"""Hostile inputs (tests/data/hostile, written by tests/data/make_hostile.py): the roundtrip
tool (or the `olive` command a case names) must fail cleanly on each: exit code 1 (not 0, not
a signal, not a sanitizer's code), within the time limit (a FIFO must not block it), exactly
one error line on stderr containing the phrase recorded for the case, and no file left
behind, neither in the output folder nor beside the input."""

import json
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "data", "hostile")
TOOL = os.environ.get("OLIVE_ROUNDTRIP")
CLI = os.environ.get("OLIVE_CLI")

with open(os.path.join(CORPUS, "cases.json")) as f:
    CASES = json.load(f)

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_ROUNDTRIP is not set (run through meson test)")


def listing(folder):
    return sorted(os.listdir(folder))


def command(spec, src, out, tmp_path):
    """The command line of a case: the roundtrip tool on model.onnx, or the `olive` command it
    names ({in}: the case folder, {out}: the empty output folder)."""
    if spec.get("workflow"):
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"input_model": {"type": "ONNXModel", "model_path": str(src)}, "passes": {},
                                      "engine": {"output_dir": str(out), "cache_dir": str(tmp_path / "cache")}}))
        return [CLI, "run", "--config", str(config)]
    if "command" in spec:
        return [CLI] + [a.replace("{in}", str(src)).replace("{out}", str(out)) for a in spec["command"]]
    return [TOOL, str(src / "model.onnx"), str(out / "model.onnx")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile(case, tmp_path):
    spec = CASES[case]
    if ("command" in spec or spec.get("workflow")) and not CLI:
        pytest.skip("OLIVE_CLI is not set")
    src = tmp_path / "in"
    out = tmp_path / "out"
    shutil.copytree(os.path.join(CORPUS, case), src, symlinks=True)
    for name in spec.get("fifos", []):
        (src / name).unlink()
        os.mkfifo(src / name)
    if spec.get("append_doc_string"):
        n = spec["append_doc_string"]
        field = bytes([6 << 3 | 2])
        while True:  # the length as a varint
            field += bytes([(n & 0x7F) | (0x80 if n >= 0x80 else 0)])
            n >>= 7
            if not n:
                break
        with open(src / "model.onnx", "ab") as f:
            f.write(field + b"x" * spec["append_doc_string"])
    out.mkdir()
    before = listing(src)

    proc = subprocess.run(command(spec, src, out, tmp_path), capture_output=True, text=True, timeout=60)

    assert proc.returncode == 1, f"exit code {proc.returncode} (stderr: {proc.stderr.strip()!r})"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {proc.stderr!r}"
    want = spec["error"]
    assert want.lower() in lines[0].lower(), f"error line does not mention {want!r}: {lines[0]!r}"
    assert listing(out) == [], f"files left in the output folder: {listing(out)}"
    assert listing(src) == before, "files appeared beside the input"


def test_corpus_is_complete():
    """Every case folder is listed in cases.json and the other way round."""
    folders = {d for d in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, d))}
    assert folders == set(CASES)


def test_hub_cache_links_are_followed(tmp_path):
    """The one link out of a model folder that is followed: a Hugging Face hub snapshot, whose
    files link into the repository's blobs/ folder (the model and its external data here)."""
    repo = tmp_path / "models--owner--name"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / "rev").mkdir(parents=True)
    src = os.path.join(CORPUS, "external_offset_past_eof", "model.onnx")
    # The corpus model reads 16 bytes at offset 128 of w.data: give it a data file that long.
    shutil.copy(src, repo / "blobs" / "a1")
    (repo / "blobs" / "b2").write_bytes(bytes(range(256)))
    os.symlink("../../blobs/a1", repo / "snapshots" / "rev" / "model.onnx")
    os.symlink("../../blobs/b2", repo / "snapshots" / "rev" / "w.data")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([TOOL, str(repo / "snapshots" / "rev" / "model.onnx"), str(out / "model.onnx")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert listing(out) == ["model.onnx"]  # 16 bytes of weights: embedded
