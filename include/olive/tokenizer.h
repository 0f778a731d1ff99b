/* libolive — tokenizers: Hugging Face tokenizer.json, encoded and decoded without Python.
 *
 * The ids are those of Hugging Face `tokenizers` (Tokenizer.from_file(path).encode(...)) for
 * the same file and text: the same normalizers, pre-tokenizers, models (BPE, WordPiece,
 * WordLevel, Unigram), added tokens, post-processors, truncation and padding. As
 * Tokenizer.from_file, only tokenizer.json is read: tokenizer_config.json (transformers'
 * add_bos_token, chat templates) is not, so the special tokens added are the ones the file's
 * post_processor adds.
 *
 * Text is UTF-8. Bytes that are not valid UTF-8 are each replaced (one U+FFFD per maximal
 * ill-formed subpart, as Python's bytes.decode("utf-8", "replace")) before tokenization.
 *
 * A tokenizer may be used by several threads at once for encoding and decoding; the setters
 * (truncation, padding) must not run concurrently with other calls on the same tokenizer.
 * Ownership and errors follow olive/common.h.
 */
#ifndef OLIVE_TOKENIZER_H
#define OLIVE_TOKENIZER_H

#include "olive/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct olive_tokenizer olive_tokenizer;
/* The results of a batch encode: per sequence its ids, type ids and attention mask. */
typedef struct olive_encoding olive_encoding;

/* Flags of the encode and decode calls. */
#define OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS 0x1u  /* encode: let the post-processor add its tokens */
#define OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS 0x2u /* decode: leave special added tokens out */

/* A text length meaning "up to the terminating NUL". */
#define OLIVE_TOKENIZER_NUL_TERMINATED ((size_t)-1)

/* Loads a tokenizer from `path`: a tokenizer.json file or a folder that holds one.
 * *out is released with olive_tokenizer_free.
 * Errors: OLIVE_EINVALID (NULL argument), OLIVE_ENOTFOUND (no such file, no tokenizer.json in
 * the folder), OLIVE_EIO, OLIVE_EFORMAT (malformed or inconsistent JSON: the message names the
 * field, e.g. "model.merges: merge 12 names 'x', which is not in model.vocab"),
 * OLIVE_EUNSUPPORTED (a component libolive does not implement, such as BPE dropout or the
 * UnicodeScripts pre-tokenizer), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API int olive_tokenizer_load(olive_tokenizer **out, const char *path);

/* Releases a tokenizer. Accepts NULL. Since 0.2. */
OLIVE_API void olive_tokenizer_free(olive_tokenizer *tok);

/* Encodes `text` (text_len bytes, or OLIVE_TOKENIZER_NUL_TERMINATED) and, when `pair` is not
 * NULL, the second sequence `pair`, applying the file's truncation and padding. *out receives
 * the ids (release with olive_free; NULL when there are none) and *out_count their number.
 * flags: OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS or 0.
 * Errors: OLIVE_EINVALID (NULL argument, or what Hugging Face refuses: an unknown piece with no
 * unk token, a truncation that cannot be met), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API int olive_tokenizer_encode(int32_t **out, size_t *out_count, const olive_tokenizer *tok, const char *text,
                                     size_t text_len, const char *pair, size_t pair_len, unsigned flags);

/* Encodes `count` texts (pairs may be NULL, or hold NULL entries for single sequences;
 * lengths may be NULL for NUL-terminated strings) as Hugging Face's encode_batch: padding to
 * the longest applies across the batch. *out is released with olive_encoding_free.
 * Errors: as olive_tokenizer_encode. Since 0.2. */
OLIVE_API int olive_tokenizer_encode_batch(olive_encoding **out, const olive_tokenizer *tok, const char *const *texts,
                                           const size_t *text_lens, const char *const *pairs, const size_t *pair_lens,
                                           size_t count, unsigned flags);

/* Number of sequences in an encoding. Since 0.2. */
OLIVE_API size_t olive_encoding_count(const olive_encoding *enc);
/* The ids, type ids (segment ids) and attention mask (1 for tokens, 0 for padding) of
 * sequence `index`, borrowed from `enc`; *len receives their length. NULL (and *len 0) when
 * index is out of range. Since 0.2. */
OLIVE_API const int32_t *olive_encoding_ids(const olive_encoding *enc, size_t index, size_t *len);
OLIVE_API const int32_t *olive_encoding_type_ids(const olive_encoding *enc, size_t index, size_t *len);
OLIVE_API const int32_t *olive_encoding_attention_mask(const olive_encoding *enc, size_t index, size_t *len);
/* Releases an encoding. Accepts NULL. Since 0.2. */
OLIVE_API void olive_encoding_free(olive_encoding *enc);

/* Decodes ids into UTF-8 text (*out NUL-terminated, released with olive_free; *out_len, when
 * not NULL, receives its length, which counts any U+0000 the text holds), through the file's
 * decoder as Hugging Face's decode does. Ids that name no token are skipped, as Hugging Face
 * skips them. flags: OLIVE_TOKENIZER_SKIP_SPECIAL_TOKENS or 0.
 * Errors: OLIVE_EINVALID (NULL argument), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API int olive_tokenizer_decode(char **out, size_t *out_len, const olive_tokenizer *tok, const int32_t *ids,
                                     size_t count, unsigned flags);

/* The id of a token (added tokens first, then the model's vocabulary) in *out.
 * Errors: OLIVE_EINVALID (NULL argument), OLIVE_ENOTFOUND (no such token). Since 0.2. */
OLIVE_API int olive_tokenizer_token_to_id(int32_t *out, const olive_tokenizer *tok, const char *token);

/* The text of token `id`, borrowed from the tokenizer; NULL when no token has that id. Since 0.2. */
OLIVE_API const char *olive_tokenizer_id_to_token(const olive_tokenizer *tok, int32_t id);

/* Hugging Face's get_vocab_size: with_added_tokens 0 gives the model's vocabulary size, 1 the
 * number of distinct tokens with the added ones. 0 for NULL. Since 0.2. */
OLIVE_API size_t olive_tokenizer_vocab_size(const olive_tokenizer *tok, int with_added_tokens);

/* Replaces the file's truncation. max_length < 0 turns truncation off. strategy:
 * "longest_first" (NULL), "only_first" or "only_second"; direction: "right" (NULL) or "left".
 * Errors: OLIVE_EINVALID (NULL tokenizer, unknown strategy or direction); nothing changes then. Since 0.2. */
OLIVE_API int olive_tokenizer_set_truncation(olive_tokenizer *tok, int64_t max_length, const char *strategy,
                                             const char *direction);

/* Replaces the file's padding. length > 0 pads every sequence to that length, 0 to the longest
 * of the batch, < 0 turns padding off. pad_to_multiple_of rounds the length up (0: no).
 * direction: "right" (NULL) or "left". pad_token: the token to pad with (NULL: the file's pad
 * token, else "[PAD]" with id 0 as Hugging Face's enable_padding).
 * Errors: OLIVE_EINVALID (NULL tokenizer, unknown direction), OLIVE_ENOTFOUND (pad_token is not
 * a token); nothing changes then. Since 0.2. */
OLIVE_API int olive_tokenizer_set_padding(olive_tokenizer *tok, int64_t length, uint32_t pad_to_multiple_of,
                                          const char *direction, const char *pad_token);

#ifdef __cplusplus
}
#endif
#endif
