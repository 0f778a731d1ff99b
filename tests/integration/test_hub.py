"""Downloads from the Hugging Face Hub, against a loopback server that speaks the Hub's file API
(hub_server.py): `olive auto-opt -m org/name` end to end, the cache read back by huggingface_hub
itself, resume, integrity, offline mode, revisions, tokens and the errors a user meets."""
import os
import pathlib
import socket
import subprocess

import numpy as np
import pytest

from hub_server import HubServer, Repo
from test_workflow import CLI, LLAMA, TIMEOUT, assert_failed, llama_prefill_logits, needs_convert

pytestmark = pytest.mark.skipif(not CLI, reason="OLIVE_CLI is not set (meson test sets it to the built olive tool)")

C1 = "1" * 40
C2 = "2" * 40
FILES = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"]


def tiny_llama():
    return {f: (LLAMA / f).read_bytes() for f in FILES}


@pytest.fixture
def hub():
    needs_convert()
    server = HubServer()
    files = tiny_llama()
    older = dict(files, **{"config.json": files["config.json"].replace(b"{", b'{"_note": "v1",', 1)})
    server.add("acme/tiny-llama", Repo({C1: older, C2: files}, {"main": C2, "v1": C1}))
    server.add("acme/gated", Repo({C2: files}, {"main": C2}, token="hf_secret"))
    yield server
    server.close()


def run(tmp_path, server_url, *args, **env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    e.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=server_url, **env)
    return subprocess.run([CLI, *args], cwd=tmp_path, env=e, capture_output=True, text=True, timeout=TIMEOUT)


def auto_opt(tmp_path, url, model, out="out", **env):
    return run(tmp_path, url, "auto-opt", "-m", model, "-o", out, "--cache_dir", "cache", **env)


def repo_dir(tmp_path, name="acme--tiny-llama"):
    return tmp_path / "hf" / "hub" / ("models--" + name)


def test_auto_opt_downloads_into_the_shared_cache(tmp_path, hub):
    from huggingface_hub import snapshot_download, try_to_load_from_cache
    r = auto_opt(tmp_path, hub.url, "acme/tiny-llama")
    assert r.returncode == 0, r.stderr
    got, want = llama_prefill_logits(tmp_path / "out")
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=1e-3)
    cache = tmp_path / "hf" / "hub"
    # huggingface_hub finds every file where libolive put it, without the network
    snap = snapshot_download("acme/tiny-llama", cache_dir=cache, local_files_only=True)
    assert pathlib.Path(snap) == repo_dir(tmp_path) / "snapshots" / C2
    for f in FILES:
        path = try_to_load_from_cache("acme/tiny-llama", f, cache_dir=cache)
        assert path and pathlib.Path(path).read_bytes() == (LLAMA / f).read_bytes(), f
        link = pathlib.Path(snap) / f
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert (repo_dir(tmp_path) / "refs" / "main").read_text() == C2
    import hashlib
    sha = hashlib.sha256((LLAMA / "model.safetensors").read_bytes()).hexdigest()
    assert (repo_dir(tmp_path) / "blobs" / sha).is_file()
    assert not list((repo_dir(tmp_path) / "blobs").glob("*.incomplete"))
    # no token configured: none sent
    assert all("Authorization" not in h for _, _, h in hub.requests)
    # offline, from the cache alone; an uncached repo is refused by name
    r = auto_opt(tmp_path, "http://127.0.0.1:9", "acme/tiny-llama", out="out2", HF_HUB_OFFLINE="1")
    assert r.returncode == 0, r.stderr
    r = auto_opt(tmp_path, hub.url, "acme/other", out="out3", HF_HUB_OFFLINE="1")
    assert_failed(r, "acme/other", "HF_HUB_OFFLINE")
    assert not (tmp_path / "out3").exists()


def test_resume_after_a_cut_connection(tmp_path, hub):
    hub.cut_after = 100000
    r = auto_opt(tmp_path, hub.url, "acme/tiny-llama")
    assert_failed(r, "model.safetensors", "resume")
    assert not (tmp_path / "out").exists()
    # The cut file is kept to resume; files fetched beside it may be cut short too.
    partial = {p.stat().st_size for p in (repo_dir(tmp_path) / "blobs").glob("*.incomplete")}
    assert 100000 in partial
    assert not (repo_dir(tmp_path) / "snapshots" / C2 / "model.safetensors").exists()
    hub.requests.clear()
    r = auto_opt(tmp_path, hub.url, "acme/tiny-llama")
    assert r.returncode == 0, r.stderr
    ranges = [h.get("Range") for m, p, h in hub.requests if p.startswith("/lfs/") and m == "GET"]
    assert "bytes=100000-" in ranges
    got, want = llama_prefill_logits(tmp_path / "out")
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=1e-3)


def test_corrupt_download_is_refused_and_not_kept(tmp_path, hub):
    hub.corrupt = True
    r = auto_opt(tmp_path, hub.url, "acme/tiny-llama")
    assert_failed(r, "model.safetensors", "sha256")
    blobs = repo_dir(tmp_path) / "blobs"
    import hashlib
    sha = hashlib.sha256((LLAMA / "model.safetensors").read_bytes()).hexdigest()
    assert not (blobs / sha).exists() and not (blobs / (sha + ".incomplete")).exists()
    assert not (repo_dir(tmp_path) / "snapshots" / C2 / "model.safetensors").exists()



def test_large_file_resumed_and_checked(tmp_path, hub):
    """A blob of several MiB (its sha256 is handed to the hashing thread a MiB at a time) cut in
    its second MiB: resumed from the bytes kept, published only with the announced sha256, and
    refused whole when the server sends other bytes."""
    import hashlib
    data = np.random.default_rng(7).integers(0, 256, (3 << 20) + 12345, dtype=np.uint8).tobytes()
    sha = hashlib.sha256(data).hexdigest()
    hub.add("acme/big", Repo({C1: {"model.gguf": data}}, {"main": C1}))
    blobs = repo_dir(tmp_path, "acme--big") / "blobs"
    hub.cut_after = (1 << 20) + 4321
    args = ("auto-opt", "-m", "acme/big/model.gguf", "-o", "out", "--dry_run")
    assert_failed(run(tmp_path, hub.url, *args), "model.gguf", "resume")
    assert (blobs / (sha + ".incomplete")).stat().st_size == (1 << 20) + 4321
    assert not (blobs / sha).exists()
    hub.requests.clear()
    r = run(tmp_path, hub.url, *args)
    assert r.returncode == 0, r.stderr
    assert [h.get("Range") for m, p, h in hub.requests if p.startswith("/lfs/")] == ["bytes=%d-" % ((1 << 20) + 4321)]
    assert (blobs / sha).read_bytes() == data
    assert not list(blobs.glob("*.incomplete"))
    other = tmp_path / "other"
    other.mkdir()
    hub.corrupt = True
    assert_failed(run(other, hub.url, *args), "model.gguf", "sha256")
    assert not list((other / "hf").rglob("model.gguf")) and not list((other / "hf").rglob(sha + "*"))

def test_revision_by_tag_and_commit(tmp_path, hub):
    from huggingface_hub import try_to_load_from_cache
    r = auto_opt(tmp_path, hub.url, "acme/tiny-llama@v1")
    assert r.returncode == 0, r.stderr
    assert (repo_dir(tmp_path) / "refs" / "v1").read_text() == C1
    cfg = try_to_load_from_cache("acme/tiny-llama", "config.json", cache_dir=tmp_path / "hf" / "hub", revision="v1")
    assert b'"_note": "v1"' in pathlib.Path(cfg).read_bytes()
    # the unchanged weights are one blob shared by both commits
    r = auto_opt(tmp_path, hub.url, "acme/tiny-llama@" + C2, out="out2")
    assert r.returncode == 0, r.stderr
    assert (repo_dir(tmp_path) / "snapshots" / C2 / "model.safetensors").is_file()
    assert len(list((repo_dir(tmp_path) / "blobs").iterdir())) == len(FILES) + 1
    r = auto_opt(tmp_path, hub.url, "acme/tiny-llama@nope", out="out3")
    assert_failed(r, "nope", "acme/tiny-llama", "not found")


def test_gated_repo_needs_a_token(tmp_path, hub):
    r = auto_opt(tmp_path, hub.url, "acme/gated")
    assert_failed(r, "acme/gated", "gated", "HF_TOKEN")
    assert not repo_dir(tmp_path, "acme--gated").exists() or not (repo_dir(tmp_path, "acme--gated") / "snapshots").exists()
    r = auto_opt(tmp_path, hub.url, "acme/gated", HF_TOKEN="hf_wrong")
    assert_failed(r, "acme/gated", "token")
    # the token file under HF_HOME, as `huggingface-cli login` writes it
    (tmp_path / "hf").mkdir(exist_ok=True)
    (tmp_path / "hf" / "token").write_text("hf_secret\n")
    hub.requests.clear()
    r = auto_opt(tmp_path, hub.url, "acme/gated")
    assert r.returncode == 0, r.stderr
    sent = [h.get("Authorization") for m, p, h in hub.requests if not p.startswith("/lfs/")]
    assert sent and all(a == "Bearer hf_secret" for a in sent)


def test_missing_repo_file_and_host_are_named(tmp_path, hub):
    assert_failed(auto_opt(tmp_path, hub.url, "acme/missing"), "acme/missing", "not found")
    assert_failed(auto_opt(tmp_path, hub.url, "acme/tiny-llama/model-Q4_0.gguf"), "model-Q4_0.gguf",
                  "acme/tiny-llama", "not found")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = auto_opt(tmp_path, "http://127.0.0.1:%d" % port, "acme/tiny-llama")
    assert_failed(r, "cannot reach 127.0.0.1:%d" % port)
    assert not (repo_dir(tmp_path) / "snapshots").exists()
    assert not (tmp_path / "out").exists()


def test_progress_bar_on_a_terminal_and_lines_otherwise(tmp_path, hub, monkeypatch):
    from olive_testlib import run_on_terminal
    for k in [k for k in os.environ if k.startswith("HF_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    rc, shown, _ = run_on_terminal([CLI, "auto-opt", "-m", "acme/tiny-llama", "-o", "out", "--cache_dir", "cache"],
                                   TIMEOUT, cwd=tmp_path)
    assert rc == 0, shown
    bar = shown.decode(errors="replace")
    # the final redraw: the repo, a full bar, bytes of the total, the rate and the time taken
    assert "acme/tiny-llama [" + "#" * 30 + "] 436.4 kB / 436.4 kB" in bar, bar
    assert "/s in " in bar, bar
    plain = tmp_path / "plain"
    plain.mkdir()
    r = run(plain, hub.url, "auto-opt", "-m", "acme/tiny-llama", "-o", "out", "--log_level", "1")
    assert r.returncode == 0, r.stderr
    assert "downloaded acme/tiny-llama/config.json (" in r.stderr and "\r" not in r.stderr


def test_workflow_model_path_is_downloaded(tmp_path, hub):
    import json
    cfg = {"input_model": {"type": "HfModel", "model_path": "acme/tiny-llama"},
           "passes": {"convert": {"type": "ModelBuilder", "precision": "fp32"}},
           "output_dir": "out", "cache_dir": "cache"}
    (tmp_path / "w.json").write_text(json.dumps(cfg))
    r = run(tmp_path, hub.url, "run", "--config", "w.json")
    assert r.returncode == 0, r.stderr
    assert (repo_dir(tmp_path) / "snapshots" / C2 / "model.safetensors").is_file()
    got, want = llama_prefill_logits(tmp_path / "out")
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=1e-3)


def test_hf_hub_cache_and_hf_token(tmp_path, hub):
    """HF_HUB_CACHE places the cache anywhere (HF_HOME then only locates the token file);
    HF_TOKEN is sent as a bearer token to the endpoint."""
    cache = tmp_path / "elsewhere"
    r = auto_opt(tmp_path, hub.url, "acme/gated", HF_HUB_CACHE=str(cache), HF_TOKEN="hf_secret")
    assert r.returncode == 0, r.stderr
    assert (cache / "models--acme--gated" / "refs" / "main").read_text() == C2
    assert not (tmp_path / "hf" / "hub").exists()
    api = [h for m, p, h in hub.requests if p.startswith("/api/") or "/resolve/" in p]
    assert api and all(h.get("Authorization") == "Bearer hf_secret" for h in api)
