"""Writes the seeds of fuzz_tokenizer into tests/fuzz/seeds/tokenizer/: small tokenizer.json
files built and saved by Hugging Face tokenizers (the pinned version), each followed by a NUL
byte and a text, as the harness reads them. They reach what the test data's tokenizers do not:
Unigram, WordLevel, a Precompiled charsmap compiled by sentencepiece, regex Split, FixedLength,
added tokens with their flags, post-processors and decoders.

Run: .venv/bin/python tests/fuzz/make_tokenizer_seeds.py
"""
import io
import json
import os
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "tokenizer")
LINES = [
    "Hello world, caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \uff21\uff22\uff23 \u2460 x\u00b2",
    "\u4f60\u597d\u4e16\u754c \u3053\u3093\u306b\u3061\u306f \uc548\ub155 \u0645\u0631\u062d\u0628\u0627",
    "e\u0301t\u00e9 2026-12-07 3.14 $42 <tag> foo_bar don't",
    "\U0001f600 \u200b\u200czero width\ufeff tab\there  two  spaces",
]
TEXT = "Hello  world! caf\u00e9 e\u0301 \u4f60\u597d \uff21\u2460 x\u00b2 \U0001f600 <mask> [SEP] 2026"


def charsmap():
    """A small SentencePiece charsmap: a few NFKC-like rules, compiled by sentencepiece."""
    rules = [("FF21", "41"), ("FF22", "42"), ("2460", "31"), ("B2", "32"), ("200B", ""),
             ("65 301", "E9"), ("3000", "20")]
    with tempfile.TemporaryDirectory() as tmp:
        tsv = os.path.join(tmp, "rules.tsv")
        with open(tsv, "w", encoding="utf-8") as f:
            for src, dst in rules:
                f.write("%s\t%s\n" % (src, dst))
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(LINES * 8), model_writer=model, vocab_size=120, hard_vocab_limit=False,
                                       normalization_rule_tsv=tsv, minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def unigram_precompiled():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap()),
                                           normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tok.decoder = decoders.Metaspace(prepend_scheme="first")
    tok.train_from_iterator(LINES * 4, trainers.UnigramTrainer(vocab_size=80, special_tokens=["<pad>", "</s>", "<unk>"],
                                                               unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B:1 </s>:1",
                                                       special_tokens=[("</s>", tok.token_to_id("</s>"))])
    tok.add_tokens([AddedToken("<mask>", lstrip=True, normalized=False)])
    return tok


def wordlevel_regex():
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=r"\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+", behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation(behavior="contiguous"),
    ])
    tok.train_from_iterator(LINES * 4, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[CLS]", "[SEP]"]))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    tok.add_tokens([AddedToken("[SEP]", single_word=True, special=True)])
    return tok


def bpe_fixed_length():
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(),
                                           normalizers.Prepend("\u2581")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.FixedLength(4)])
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)])
    tok.train_from_iterator(LINES * 4, trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<s>"],
                                                           initial_alphabet=["<0x41>"]))
    tok.add_tokens([AddedToken("<mask>", rstrip=True)])
    return tok


def wordpiece_bert():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(LINES * 4, trainers.WordPieceTrainer(vocab_size=150,
                                                                 special_tokens=["[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, single_word=False)])
    tok.enable_truncation(max_length=24)
    tok.enable_padding(pad_token="[UNK]", pad_id=0, length=None)
    return tok


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, build in [("unigram_precompiled", unigram_precompiled), ("wordlevel_regex", wordlevel_regex),
                        ("bpe_fixed_length", bpe_fixed_length), ("wordpiece_bert", wordpiece_bert)]:
        tok = build()
        text = json.dumps(json.loads(tok.to_str()), ensure_ascii=False, separators=(",", ":"))
        Tokenizer.from_str(text)  # what is written loads in tokenizers itself
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(text.encode("utf-8") + b"\0" + TEXT.encode("utf-8"))
        print(name, len(text))


if __name__ == "__main__":
    main()
