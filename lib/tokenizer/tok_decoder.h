/* Decoders of tokenizer.json: ByteLevel, Metaspace, WordPiece, ByteFallback, Fuse, Strip,
 * Replace, BPEDecoder, CTC and Sequence; each maps a list of token strings to a new list, and
 * the result is their concatenation (Decoder::decode_chain, then join). */
#ifndef OLIVE_TOKENIZER_TOK_DECODER_H
#define OLIVE_TOKENIZER_TOK_DECODER_H

#include <jansson.h>

#include "core/alloc.h"

typedef struct otok_decoder otok_decoder;

/* A list of owned strings. */
typedef struct otok_strs {
    char **s;
    size_t *len;
    size_t n, cap;
} otok_strs;

int otok_strs_push(otok_strs *l, const char *s, size_t len);
void otok_strs_free(otok_strs *l);

int otok_decoder_parse(otok_decoder **out, json_t *j, const char *path, int depth);
void otok_decoder_free(otok_decoder *d);

/* Decodes tokens (consumed) into out (appended). d NULL joins the tokens with spaces. */
int otok_decode(const otok_decoder *d, otok_strs *tokens, olive_strbuf *out);

#endif
