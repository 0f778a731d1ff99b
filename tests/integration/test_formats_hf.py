"""Hugging Face checkpoint reader, driven through the checkpoint_dump tool.

Good inputs are the committed fixtures of tests/data/formats_hf (written by make_fixtures.py
with transformers and torch): names, dtypes, shapes and files must match what safetensors'
own reader and torch.load report, and values must equal theirs exactly. Bad inputs are made
here from the good ones; each must give exit code 1 and one error line naming the file and,
where there is one, the tensor at fault.
"""

import json
import os
import pickle
import shutil
import struct
import subprocess
import zipfile
import zlib

import numpy as np
import pytest
from olive_testlib import dump_checkpoint as dump, dump_tensor, run_checkpoint_dump

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "formats_hf")
EXPECTED = os.path.join(DATA, "expected")
TOOL = os.environ.get("OLIVE_CHECKPOINT_DUMP")
APPLY_PASS = os.environ.get("OLIVE_APPLY_PASS")

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_CHECKPOINT_DUMP is not set (run through meson test)")

LAYOUTS = ["st_f32", "st_f16", "st_bf16", "st_sharded", "bin", "bin_sharded", "bin_views"]


def run_tool(*args):
    return run_checkpoint_dump(*args, timeout=60)


def read_values(path, name, tmp_path, rows=None):
    """The tensor's values: all rows, or rows = (first, count)."""
    return dump_tensor(path, name, tmp_path / "values.f32", *(rows or (None, None)))


def fails(path, *args):
    """Runs the tool expecting a clean failure; returns the single error line."""
    proc = run_tool(path, *args)
    assert proc.returncode == 1, f"exit code {proc.returncode}: {proc.stderr!r}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def expected(layout):
    with open(os.path.join(EXPECTED, layout + ".json")) as f:
        meta = json.load(f)
    return meta, np.load(os.path.join(EXPECTED, layout + ".npz"))


def copy_fixture(layout, tmp_path):
    dst = tmp_path / layout
    shutil.copytree(os.path.join(DATA, layout), dst)
    return dst


# ---- good inputs ----

@pytest.mark.parametrize("layout", LAYOUTS)
def test_tensor_list_matches_reference(layout):
    meta, _ = expected(layout)
    got = {t["name"]: t for t in dump(os.path.join(DATA, layout))["tensors"]}
    assert set(got) == set(meta)
    for name, want in meta.items():
        t = got[name]
        assert t["shape"] == want["shape"], name
        assert t["dtype"] == want["dtype"], name
        assert t["storage"] == "plain" and t["ggml_type"] is None
        assert os.path.basename(t["file"]) == want["file"], name


@pytest.mark.parametrize("layout", LAYOUTS)
def test_values_match_reference(layout, tmp_path):
    meta, arrays = expected(layout)
    path = os.path.join(DATA, layout)
    for name, want in meta.items():
        if want["dtype"] == "int64":
            assert "no float value" in fails(path, "--tensor", name, "--out", tmp_path / "x")
            continue
        got = read_values(path, name, tmp_path)
        ref = arrays[name].astype(np.float32).ravel()
        assert got.shape == ref.shape, name
        assert np.array_equal(got, ref), name


def test_fp16_and_bf16_widen_exactly():
    """The 16-bit fixtures hold the fp32 model rounded by torch: reading them back must give
    exactly numpy's widening of torch's rounding."""
    _, f32 = expected("st_f32")
    _, f16 = expected("st_f16")
    _, bf16 = expected("st_bf16")
    for name in f32.files:
        assert np.array_equal(f16[name], f32[name].astype(np.float16).astype(np.float32)), name
        # bf16 keeps the top 16 bits after round-to-nearest-even.
        bits = f32[name].astype(np.float32).view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
        assert np.array_equal(bf16[name], rounded), name


@pytest.mark.parametrize("layout", ["st_bf16", "bin"])
def test_row_range(layout, tmp_path):
    _, arrays = expected(layout)
    ref = arrays["model.embed_tokens.weight"]
    got = read_values(os.path.join(DATA, layout), "model.embed_tokens.weight", tmp_path, rows=(3, 5))
    assert np.array_equal(got, ref[3:8].astype(np.float32).ravel())
    err = fails(os.path.join(DATA, layout), "--tensor", "model.embed_tokens.weight", "--out", tmp_path / "x",
                "--first-row", 12, "--rows", 5)
    assert "outside" in err and "model.embed_tokens.weight" in err


def test_config_and_companions():
    path = os.path.join(DATA, "st_f32")
    d = dump(path)
    with open(os.path.join(path, "config.json")) as f:
        assert d["config"] == json.load(f)
    with open(os.path.join(path, "generation_config.json")) as f:
        assert d["generation_config"] == json.load(f)
    assert d["kind"] == "hf_folder"
    assert [os.path.basename(p) for p in d["copy_files"]] == ["tokenizer_config.json"]
    assert d["generated"] == []
    assert dump(os.path.join(DATA, "bin_sharded"))["generation_config"] is None


def test_hub_cache_symlinks_are_followed(tmp_path):
    """In the Hugging Face hub cache every file of snapshots/<rev>/ links into ../../blobs/."""
    repo = tmp_path / "models--tiny"
    blobs, snap = repo / "blobs", repo / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    src = os.path.join(DATA, "st_sharded")
    for i, name in enumerate(sorted(os.listdir(src))):
        shutil.copy(os.path.join(src, name), blobs / f"blob{i}")
        os.symlink(f"../../blobs/blob{i}", snap / name)
    meta, _ = expected("st_sharded")
    assert {t["name"] for t in dump(snap)["tensors"]} == set(meta)


# ---- bad config / folder ----

def test_missing_config(tmp_path):
    d = copy_fixture("st_f32", tmp_path)
    os.remove(d / "config.json")
    assert "config.json" in fails(d)


def test_malformed_config(tmp_path):
    d = copy_fixture("st_f32", tmp_path)
    (d / "config.json").write_text('{"model_type": "llama",\n  "hidden_size": }\n')
    err = fails(d)
    assert "config.json" in err and "line 2" in err and "column" in err


def test_config_not_an_object(tmp_path):
    d = copy_fixture("st_f32", tmp_path)
    (d / "config.json").write_text("[1, 2]")
    assert "not a JSON object" in fails(d)


def test_no_weights(tmp_path):
    d = copy_fixture("st_f32", tmp_path)
    os.remove(d / "model.safetensors")
    assert "no weights" in fails(d)


# ---- bad safetensors ----

def st_parts(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def st_write(path, header, data):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def first_tensor(header):
    return sorted(k for k in header if k != "__metadata__")[0]


def patched_header(tmp_path, edit):
    d = copy_fixture("st_f32", tmp_path)
    st = d / "model.safetensors"
    header, data = st_parts(st)
    name = edit(header)
    st_write(st, header, data)
    return d, name


@pytest.mark.parametrize("case,phrase", [
    ("offsets_out_of_range", "outside"),
    ("size_mismatch", "need"),
    ("unknown_dtype", "unknown dtype"),
    ("rank", "rank"),
    ("huge_dims", "too many elements"),
    ("negative_dim", "non-negative"),
    ("bad_offsets", "data_offsets"),
])
def test_bad_safetensors_entry(case, phrase, tmp_path):
    def edit(h):
        name = first_tensor(h)
        e = h[name]
        if case == "offsets_out_of_range":
            e["data_offsets"][1] += 10**6
        elif case == "size_mismatch":
            e["shape"] = [e["shape"][0] + 1] + e["shape"][1:]
        elif case == "unknown_dtype":
            e["dtype"] = "F33"
        elif case == "rank":
            e["shape"] = [1] * 9
        elif case == "huge_dims":
            e["shape"] = [2**62, 2**62]
        elif case == "negative_dim":
            e["shape"] = [-1, 8]
        elif case == "bad_offsets":
            e["data_offsets"] = [5]
        return name
    d, name = patched_header(tmp_path, edit)
    err = fails(d)
    assert phrase in err and "model.safetensors" in err and name in err, err


def test_overlapping_tensors(tmp_path):
    def edit(h):
        a, b = sorted(k for k in h if k != "__metadata__" and h[k]["shape"] == [8])[:2]
        h[b]["data_offsets"] = list(h[a]["data_offsets"])
        return a
    d, name = patched_header(tmp_path, edit)
    err = fails(d)
    assert "overlap" in err and name in err


def patched_file(tmp_path, edit, layout="st_f32", name="model.safetensors"):
    """A copy of the fixture whose file `name` is rewritten as edit(its bytes); its folder."""
    d = copy_fixture(layout, tmp_path)
    (d / name).write_bytes(edit((d / name).read_bytes()))
    return d


def test_header_length_beyond_file(tmp_path):
    err = fails(patched_file(tmp_path, lambda raw: struct.pack("<Q", len(raw) + 1) + raw[8:]))
    assert "beyond the end" in err and "model.safetensors" in err


def test_header_not_json(tmp_path):
    err = fails(patched_file(tmp_path, lambda raw: raw[:9] + b"not json!!!" + raw[20:]))
    assert "not valid JSON" in err and "model.safetensors" in err


def test_duplicate_header_key(tmp_path):
    d = copy_fixture("st_f32", tmp_path)
    st = d / "model.safetensors"
    header, data = st_parts(st)
    name = first_tensor(header)
    text = json.dumps(header)
    entry = json.dumps({name: header[name]})[1:-1]
    st.write_bytes(struct.pack("<Q", len(text) + len(entry) + 2) + (text[:-1] + ", " + entry + "}").encode() + data)
    err = fails(d)
    assert "duplicate" in err and "model.safetensors" in err


@pytest.mark.parametrize("layout,name,keep", [("st_f32", "model.safetensors", k) for k in (3, 100, -5)] +
                         [("bin", "pytorch_model.bin", k) for k in (10, 500, -30)])
def test_truncated_file(layout, name, keep, tmp_path):
    """A weights file cut short (to its first `keep` bytes, or all but the last -keep) is an error
    naming it."""
    assert name in fails(patched_file(tmp_path, lambda raw: raw[:keep], layout, name))


# ---- bad indexes and shards ----

def sharded(tmp_path, layout="st_sharded"):
    d = copy_fixture(layout, tmp_path)
    index = d / ("model.safetensors.index.json" if layout == "st_sharded" else "pytorch_model.bin.index.json")
    return d, index, json.loads(index.read_text())


@pytest.mark.parametrize("layout", ["st_sharded", "bin_sharded"])
def test_index_names_missing_shard(layout, tmp_path):
    d, index, j = sharded(tmp_path, layout)
    shard = sorted(set(j["weight_map"].values()))[1]
    os.remove(d / shard)
    err = fails(d)
    assert shard in err and "index.json" in err


def test_tensor_listed_but_absent(tmp_path):
    d, index, j = sharded(tmp_path)
    j["weight_map"]["model.extra.weight"] = sorted(set(j["weight_map"].values()))[0]
    index.write_text(json.dumps(j))
    err = fails(d)
    assert "model.extra.weight" in err and "does not hold" in err


def test_tensor_in_another_shard_than_listed(tmp_path):
    d, index, j = sharded(tmp_path)
    shards = sorted(set(j["weight_map"].values()))
    name = next(k for k, v in j["weight_map"].items() if v == shards[0])
    j["weight_map"][name] = shards[1]
    index.write_text(json.dumps(j))
    err = fails(d)
    assert name in err and shards[1] in err


@pytest.mark.parametrize("where,phrase", [("../outside.safetensors", "escapes"),
                                          ("/tmp/outside.safetensors", "not a relative path"),
                                          ("sub/../../x.safetensors", "escapes")])
def test_index_path_escaping(where, phrase, tmp_path):
    d, index, j = sharded(tmp_path)
    name = sorted(j["weight_map"])[0]
    j["weight_map"][name] = where
    index.write_text(json.dumps(j))
    err = fails(d)
    assert phrase in err and where in err


def test_index_symlink_out_of_folder(tmp_path):
    d, index, j = sharded(tmp_path)
    shard = sorted(set(j["weight_map"].values()))[0]
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(d / shard, outside)
    os.symlink(outside, d / shard)
    err = fails(d)
    assert "outside the model folder" in err and shard in err


@pytest.mark.parametrize("name", ["tokenizer.json", "tokenizer_config.json", "config.json",
                                  "generation_config.json", "model.safetensors"])
def test_file_linked_out_of_folder(name, tmp_path):
    """A companion, config or weights file that is a symlink leading out of the folder (here to a
    copy of the real file, so that only the link is wrong) is refused, not read or copied."""
    d = copy_fixture("st_f32", tmp_path)
    outside = tmp_path / ("elsewhere-" + name)
    if (d / name).exists():
        shutil.move(d / name, outside)
    else:
        outside.write_text('{"secret": 1}')
    os.symlink(outside, d / name)
    err = fails(d)
    assert "outside the model folder" in err and name in err


def test_link_inside_folder_is_followed(tmp_path):
    """A link to another file of the same folder is fine."""
    d = copy_fixture("st_f32", tmp_path)
    shutil.move(d / "tokenizer_config.json", d / "real_tokenizer_config.json")
    os.symlink("real_tokenizer_config.json", d / "tokenizer_config.json")
    assert [os.path.basename(p) for p in dump(d)["copy_files"]] == ["tokenizer_config.json"]


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "shard"])
def test_fifo_is_refused_without_hanging(name, tmp_path):
    """A FIFO (no writer) in place of a file would block an open() forever."""
    if name == "shard":
        d, _, j = sharded(tmp_path)
        name = sorted(set(j["weight_map"].values()))[0]
    else:
        d = copy_fixture("st_f32", tmp_path)
    os.remove(d / name)
    os.mkfifo(d / name)
    err = fails(d)
    assert "FIFO" in err and name in err


def test_duplicate_tensor_across_shards(tmp_path):
    d, index, j = sharded(tmp_path)
    shard = sorted(set(j["weight_map"].values()))[0]
    shutil.copy(d / shard, d / "model-extra.safetensors")
    name = next(k for k, v in j["weight_map"].items() if v == shard)
    j["weight_map"][name] = "model-extra.safetensors"
    index.write_text(json.dumps(j))
    err = fails(d)
    assert "appears twice" in err and "model-extra.safetensors" in err


def test_truncated_shard(tmp_path):
    d, index, j = sharded(tmp_path)
    shard = sorted(set(j["weight_map"].values()))[-1]
    raw = (d / shard).read_bytes()
    (d / shard).write_bytes(raw[:len(raw) - 7])
    assert shard in fails(d)


def test_index_without_weight_map(tmp_path):
    d, index, j = sharded(tmp_path)
    index.write_text(json.dumps({"metadata": {}}))
    assert "weight_map" in fails(d)


# ---- bad pytorch_model.bin ----

def bin_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=compression)


def bin_fixture(tmp_path):
    d = copy_fixture("bin_views", tmp_path)
    return d, d / "pytorch_model.bin", bin_entries(d / "pytorch_model.bin")


class RunsAShell:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_disallowed_pickle_global(protocol, tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    evil = pickle.dumps({"w": RunsAShell()}, protocol=protocol)
    write_zip(binf, [(n, evil if n.endswith("/data.pkl") else b) for n, b in entries])
    proc = run_tool(d)
    assert proc.returncode == 1 and "should-never-run" not in proc.stdout
    err = proc.stderr.strip()
    assert f"{os.system.__module__}.system" in err and "pytorch_model.bin" in err and "not allowed" in err


@pytest.mark.parametrize("cut", [1, 40, 300])
def test_truncated_pickle(cut, tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    write_zip(binf, [(n, b[:cut] if n.endswith("/data.pkl") else b) for n, b in entries])
    err = fails(d)
    assert "truncated" in err and "data.pkl" in err


def test_zip_entry_escaping(tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    write_zip(binf, entries + [("../evil", b"x")])
    err = fails(d)
    assert "escapes" in err and "../evil" in err and "pytorch_model.bin" in err


def test_compressed_storage(tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    write_zip(binf, entries, zipfile.ZIP_DEFLATED)
    err = fails(d)
    assert "compressed" in err and "/data/" in err


def test_missing_storage_record(tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    write_zip(binf, [(n, b) for n, b in entries if not n.endswith("/data/0")])
    err = fails(d)
    assert "missing" in err and "data/0" in err and "whole" in err


def test_storage_record_too_small(tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    write_zip(binf, [(n, b[:8] if n.endswith("/data/0") else b) for n, b in entries])
    err = fails(d)
    assert "runs past its storage record" in err


def test_not_a_state_dict(tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    write_zip(binf, [(n, pickle.dumps({"w": 3}, protocol=2) if n.endswith("/data.pkl") else b) for n, b in entries])
    err = fails(d)
    assert "'w'" in err and "not a tensor" in err


def write_zip64(path, entries):
    """A zip whose sizes and offsets all live in zip64 extra fields, as in files over 4 GiB."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        n, crc, offset = name.encode(), zlib.crc32(data), len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(n),
                           len(local_extra)) + n + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(n), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + n + extra
    cd_offset = len(out)
    out += central
    eocd64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(bytes(out))


def test_zip64_records(tmp_path):
    d, binf, entries = bin_fixture(tmp_path)
    write_zip64(binf, entries)
    meta, arrays = expected("bin_views")
    assert {t["name"] for t in dump(d)["tensors"]} == set(meta)
    assert np.array_equal(read_values(d, "rows", tmp_path), arrays["rows"].ravel())


def test_strided_tensor_refused():
    err = fails(os.path.join(DATA, "bin_strided"))
    assert "transposed" in err and "not contiguous" in err


def test_legacy_format_refused():
    assert "legacy" in fails(os.path.join(DATA, "bin_legacy"))


# ---- a checkpoint as a model ----

@pytest.mark.skipif(not APPLY_PASS, reason="OLIVE_APPLY_PASS is not set")
def test_other_passes_refuse_a_checkpoint(tmp_path):
    src = os.path.join(DATA, "st_f32")
    proc = subprocess.run([APPLY_PASS, "peephole", src, str(tmp_path / "out.onnx")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "is a checkpoint: run the convert pass first" in proc.stderr
    assert os.listdir(tmp_path) == []
