"""Tokenizer: Hugging Face tokenizer.json encoded and decoded by libolive, with the ids of
Hugging Face `tokenizers` (see include/olive/tokenizer.h).

    tok = libolive.Tokenizer.load("model_folder")      # or the tokenizer.json itself
    ids = tok.encode("Hello world")
    text = tok.decode(ids, skip_special_tokens=True)
"""

import ctypes

from . import _ffi
from ._handle import Handle
from .errors import check

ADD_SPECIAL_TOKENS = 0x1
SKIP_SPECIAL_TOKENS = 0x2


def _text(value, name):
    # Text may hold any bytes (invalid UTF-8 is repaired by the library), NUL included: it is
    # passed with its length.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    raise TypeError("%s must be str or bytes, not %s" % (name, type(value).__name__))


class Encoding:
    """One encoded sequence: ids, type_ids and attention_mask (lists of int)."""

    __slots__ = ("ids", "type_ids", "attention_mask")

    def __init__(self, ids, type_ids, attention_mask):
        self.ids = ids
        self.type_ids = type_ids
        self.attention_mask = attention_mask

    def __len__(self):
        return len(self.ids)

    def __repr__(self):
        return "Encoding(ids=%r)" % (self.ids,)


class Tokenizer(Handle):
    """A tokenizer.json loaded by libolive (olive_tokenizer)."""

    _free_name = "olive_tokenizer_free"

    @classmethod
    def load(cls, path):
        """Loads a tokenizer.json file, or the tokenizer.json of a folder."""
        ptr = _ffi.TokenizerPtr()
        check(_ffi.lib.olive_tokenizer_load(ctypes.byref(ptr), _ffi.encode_path(path)))
        return cls(ptr)

    def encode(self, text, pair=None, add_special_tokens=True):
        """The ids of `text` (and `pair`), as tokenizers' Tokenizer.encode(...).ids."""
        raw = _text(text, "text")
        raw_pair = None if pair is None else _text(pair, "pair")
        out = ctypes.POINTER(ctypes.c_int32)()
        count = ctypes.c_size_t()
        check(_ffi.lib.olive_tokenizer_encode(
            ctypes.byref(out), ctypes.byref(count), self._require(), raw, len(raw), raw_pair,
            0 if raw_pair is None else len(raw_pair), ADD_SPECIAL_TOKENS if add_special_tokens else 0))
        try:
            return out[:count.value] if count.value else []
        finally:
            _ffi.lib.olive_free(ctypes.cast(out, ctypes.c_void_p))

    def encode_batch(self, texts, pairs=None, add_special_tokens=True):
        """A list of Encoding, as tokenizers' encode_batch (padding to the longest applies to
        the whole batch)."""
        raws = [_text(t, "texts[%d]" % i) for i, t in enumerate(texts)]
        n = len(raws)
        c_texts = (ctypes.c_char_p * max(n, 1))(*raws)
        c_lens = (ctypes.c_size_t * max(n, 1))(*[len(r) for r in raws])
        c_pairs = c_pair_lens = None
        if pairs is not None:
            if len(pairs) != n:
                raise ValueError("pairs must have as many entries as texts")
            raw_pairs = [None if p is None else _text(p, "pairs[%d]" % i) for i, p in enumerate(pairs)]
            c_pairs = (ctypes.c_char_p * max(n, 1))(*raw_pairs)
            c_pair_lens = (ctypes.c_size_t * max(n, 1))(*[0 if p is None else len(p) for p in raw_pairs])
        enc = _ffi.EncodingPtr()
        check(_ffi.lib.olive_tokenizer_encode_batch(
            ctypes.byref(enc), self._require(), c_texts, c_lens, c_pairs, c_pair_lens, n,
            ADD_SPECIAL_TOKENS if add_special_tokens else 0))
        try:
            result = []
            for i in range(_ffi.lib.olive_encoding_count(enc)):
                parts = []
                for fn in (_ffi.lib.olive_encoding_ids, _ffi.lib.olive_encoding_type_ids,
                           _ffi.lib.olive_encoding_attention_mask):
                    length = ctypes.c_size_t()
                    ptr = fn(enc, i, ctypes.byref(length))
                    parts.append(ptr[:length.value] if length.value else [])
                result.append(Encoding(*parts))
            return result
        finally:
            _ffi.lib.olive_encoding_free(enc)

    def decode(self, ids, skip_special_tokens=True):
        """The text of `ids`, as tokenizers' Tokenizer.decode (unknown ids are skipped)."""
        ids = list(ids)
        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        out = ctypes.c_void_p()
        length = ctypes.c_size_t()
        check(_ffi.lib.olive_tokenizer_decode(ctypes.byref(out), ctypes.byref(length), self._require(), arr,
                                              len(ids), SKIP_SPECIAL_TOKENS if skip_special_tokens else 0))
        try:
            return ctypes.string_at(out.value, length.value).decode("utf-8") if out.value else ""
        finally:
            _ffi.lib.olive_free(out.value)

    def token_to_id(self, token):
        """The id of `token`, or None."""
        out = ctypes.c_int32()
        rc = _ffi.lib.olive_tokenizer_token_to_id(ctypes.byref(out), self._require(), _ffi.encode(token))
        if rc == _ffi.OLIVE_ENOTFOUND:
            _ffi.lib.olive_error_clear()
            return None
        check(rc)
        return out.value

    def id_to_token(self, token_id):
        """The text of token `token_id`, or None."""
        if not -2**31 <= token_id < 2**31:
            return None
        raw = _ffi.lib.olive_tokenizer_id_to_token(self._require(), token_id)
        return None if raw is None else raw.decode("utf-8")

    def get_vocab_size(self, with_added_tokens=True):
        """As tokenizers' get_vocab_size."""
        return _ffi.lib.olive_tokenizer_vocab_size(self._require(), 1 if with_added_tokens else 0)

    def enable_truncation(self, max_length, strategy="longest_first", direction="right"):
        """Truncates every encoding to max_length ids (special tokens included)."""
        check(_ffi.lib.olive_tokenizer_set_truncation(self._require(), max_length, _ffi.encode(strategy),
                                                      _ffi.encode(direction)))

    def no_truncation(self):
        check(_ffi.lib.olive_tokenizer_set_truncation(self._require(), -1, None, None))

    def enable_padding(self, length=None, pad_to_multiple_of=None, direction="right", pad_token=None):
        """Pads to `length`, or to the longest of a batch when length is None."""
        check(_ffi.lib.olive_tokenizer_set_padding(self._require(), 0 if length is None else length,
                                                   pad_to_multiple_of or 0, _ffi.encode(direction),
                                                   _ffi.encode(pad_token)))

    def no_padding(self):
        check(_ffi.lib.olive_tokenizer_set_padding(self._require(), -1, 0, None, None))
