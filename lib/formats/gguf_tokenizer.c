/* tokenizer.json and tokenizer_config.json rebuilt from a GGUF file's tokenizer.ggml.* metadata,
 * in the form the Hugging Face tokenizers library loads:
 *  - model "gpt2": byte-level BPE. The vocabulary and merges are stored already spelled in the
 *    byte-level alphabet; the pre-tokenizer split is chosen from tokenizer.ggml.pre, as
 *    llama.cpp does, because the file does not store the regex itself.
 *  - model "llama": SentencePiece BPE with byte fallback, merges derived from the vocabulary
 *    and its scores (the file has none); spaces handled the way transformers does for the
 *    architecture (Llama, Phi-3 or Gemma).
 * CONTROL tokens become special added tokens and USER_DEFINED ones plain added tokens, so the
 * text around them is never merged into them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "formats/bpe_merges.h"
#include "formats/checkpoint.h"
#include "formats/gguf.h"

enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_BYTE = 6 };

/* Pre-tokenizer splits, named by tokenizer.ggml.pre as llama.cpp names them. The patterns are
 * the ones those models were trained with (llama.cpp lists the same ones). */
static const char LLAMA3_SPLIT[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                                   "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_SPLIT[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
                                  "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char DIGIT_SPLIT[] = "\\p{N}";
/* Mistral's Tekken (Nemo, Ministral) */
static const char TEKKEN_SPLIT[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* OpenAI's o200k split (GPT-4o), used by Phi-4 */
static const char GPT4O_SPLIT[] = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}"
                                  "\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                                  "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}"
                                  "\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                                  "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct pre_split {
    const char *pre;   /* tokenizer.ggml.pre */
    const char *regex; /* split before byte-level mapping; NULL: none */
    int gpt2_regex;    /* then GPT-2's own split (ByteLevel use_regex) */
    int ignore_merges; /* a word already in the vocabulary is one token */
    const char *tokenizer_class;
} pre_split;

static const pre_split pre_splits[] = {
    {"default", NULL, 1, 0, "GPT2Tokenizer"},
    {"gpt2", NULL, 1, 0, "GPT2Tokenizer"},
    {"gpt-2", NULL, 1, 0, "GPT2Tokenizer"}, /* llama.cpp's name for GPT-2's own split */
    {"smollm", DIGIT_SPLIT, 1, 0, "GPT2Tokenizer"},
    {"llama3", LLAMA3_SPLIT, 0, 1, "PreTrainedTokenizerFast"},
    {"llama-v3", LLAMA3_SPLIT, 0, 1, "PreTrainedTokenizerFast"},
    {"llama-bpe", LLAMA3_SPLIT, 0, 1, "PreTrainedTokenizerFast"},
    {"smaug-bpe", LLAMA3_SPLIT, 0, 1, "PreTrainedTokenizerFast"},
    {"falcon3", LLAMA3_SPLIT, 0, 1, "PreTrainedTokenizerFast"},
    {"dbrx", LLAMA3_SPLIT, 0, 1, "PreTrainedTokenizerFast"},
    {"qwen2", QWEN2_SPLIT, 0, 0, "Qwen2Tokenizer"},
    {"deepseek-r1-qwen", QWEN2_SPLIT, 0, 0, "Qwen2Tokenizer"},
    {"megrez", QWEN2_SPLIT, 0, 0, "Qwen2Tokenizer"},
    {"tekken", TEKKEN_SPLIT, 0, 0, "PreTrainedTokenizerFast"},
    {"gpt-4o", GPT4O_SPLIT, 0, 0, "GPT2Tokenizer"},
};

/* transformers builds SentencePiece tokenizers differently per architecture: Llama's (Metaspace
 * pre-tokenizer), Phi-3's (prefix and spaces through the normalizer) and Gemma's (spaces through
 * the normalizer, no prefix, merges ranked by vocabulary position rather than score). */
enum { SPM_LLAMA, SPM_PHI3, SPM_GEMMA };

typedef struct tok_meta {
    const ofmt_gguf *g;
    const ofmt_gguf_array *tokens, *types, *scores, *merges;
    const ofmt_gguf_str *model, *pre, *chat_template;
    int64_t bos, eos, unk, pad; /* -1 when absent */
    int add_bos, add_eos, has_add_bos, has_add_eos, add_space_prefix;
    int byte_level;
    int spm_style;    /* SentencePiece vocabularies: which transformers builds */
    char **text;      /* each token as the vocabulary spells it (NUL-terminated) */
    olive_strmap ids; /* text -> id + 1 (the last one for a repeated token) */
} tok_meta;

/* ---- UTF-8 and the byte-level alphabet ------------------------------------------------ */

/* Appends a code point below U+10000 (all this file writes) as UTF-8. */
static void utf8_put(olive_strbuf *b, uint32_t cp)
{
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    }
    olive_strbuf_appendn(b, out, n);
}

/* GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the 68 others
 * for the code points 256.. in byte order. */
static int byte_printable(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

static uint32_t byte_cp(unsigned b)
{
    if (byte_printable(b))
        return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++)
        n += !byte_printable(x);
    return 256 + n;
}

static int in_byte_alphabet(uint32_t cp)
{
    return cp < 256 ? byte_printable(cp) : cp < 256 + 68;
}

/* ---- metadata ------------------------------------------------------------------------- */

static int token_id(const ofmt_gguf *g, const char *key, uint64_t n_tokens, int64_t *out)
{
    uint64_t id;
    *out = -1;
    if (!ofmt_gguf_find(g, key))
        return OLIVE_OK;
    if (!ofmt_gguf_get_u64(g, key, &id) || id >= n_tokens)
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': '%s' is not a token id below the vocabulary size %llu",
                          g->path, key, (unsigned long long)n_tokens);
    *out = (int64_t)id;
    return OLIVE_OK;
}

static int token_type(const tok_meta *m, uint64_t i)
{
    int64_t t;
    return m->types && ofmt_gguf_array_i64(m->types, i, &t) ? (int)t : TOKEN_NORMAL;
}

/* A token of whitespace holding at least one space. */
static int spaces_only(const ofmt_gguf_str *s)
{
    int space = 0;
    for (uint64_t k = 0; k < s->len; k++) {
        unsigned char c = (unsigned char)s->ptr[k];
        if (c == ' ')
            space = 1;
        else if (!(c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || (c >= 0x1c && c <= 0x1f)))
            return 0;
    }
    return space;
}

/* The token's text as the vocabulary spells it: byte-level vocabularies respell a token holding
 * characters outside their alphabet from its UTF-8 bytes (as transformers does). */
static int token_text(tok_meta *m, uint64_t i, char **out)
{
    const ofmt_gguf_str *s = &m->tokens->strs[i];
    const unsigned char *p = (const unsigned char *)s->ptr;
    uint64_t pos = 0;
    uint32_t cp;
    int all_in_alphabet = 1;
    while (pos < s->len) {
        if (!ofmt_gguf_utf8_next(p, s->len, &pos, &cp))
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tokenizer.ggml.tokens[%llu] is not valid UTF-8",
                              m->g->path, (unsigned long long)i);
        if (cp == 0 && !m->byte_level)
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tokenizer.ggml.tokens[%llu] holds a NUL character",
                              m->g->path, (unsigned long long)i);
        all_in_alphabet &= in_byte_alphabet(cp);
    }
    if (m->spm_style == SPM_GEMMA && spaces_only(s)) {
        /* Gemma stores a run of spaces as real spaces; its vocabulary spells them U+2581 */
        olive_strbuf b = {0};
        for (uint64_t k = 0; k < s->len; k++)
            olive_strbuf_append(&b, "\xe2\x96\x81");
        *out = olive_strbuf_take(&b);
        return *out ? OLIVE_OK : OLIVE_ENOMEM;
    }
    if (!m->byte_level || all_in_alphabet) {
        *out = olive_strndup(s->ptr, (size_t)s->len);
        return *out ? OLIVE_OK : OLIVE_ENOMEM;
    }
    olive_strbuf b = {0};
    for (uint64_t k = 0; k < s->len; k++)
        utf8_put(&b, byte_cp(p[k]));
    *out = olive_strbuf_take(&b);
    return *out ? OLIVE_OK : OLIVE_ENOMEM;
}

static int read_meta(tok_meta *m, const ofmt_gguf *g)
{
    const ofmt_gguf_value *v;
    uint64_t n;
    m->g = g;
    m->model = ofmt_gguf_get_str(g, "tokenizer.ggml.model");
    m->pre = ofmt_gguf_get_str(g, "tokenizer.ggml.pre");
    m->chat_template = ofmt_gguf_get_str(g, "tokenizer.chat_template");
    if (m->chat_template && !ofmt_gguf_str_utf8(m->chat_template))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': 'tokenizer.chat_template' is not valid UTF-8", g->path);
    m->tokens = ofmt_gguf_get_array(g, "tokenizer.ggml.tokens", OFMT_GGUF_STRING);
    if (!m->tokens)
        return olive_fail(OLIVE_EFORMAT,
                          "GGUF file '%s': 'tokenizer.ggml.tokens' is missing or not an array of strings", g->path);
    n = m->tokens->n;
    if ((v = ofmt_gguf_find(g, "tokenizer.ggml.token_type"))) {
        if (v->type != OFMT_GGUF_ARRAY || v->v.arr.n != n || (n && !v->v.arr.data))
            return olive_fail(
                OLIVE_EFORMAT,
                "GGUF file '%s': 'tokenizer.ggml.token_type' must be an integer array of %llu entries, one per token",
                g->path, (unsigned long long)n);
        m->types = &v->v.arr;
    }
    if ((v = ofmt_gguf_find(g, "tokenizer.ggml.scores"))) {
        if (v->type != OFMT_GGUF_ARRAY || v->v.arr.n != n || (n && !v->v.arr.data))
            return olive_fail(
                OLIVE_EFORMAT,
                "GGUF file '%s': 'tokenizer.ggml.scores' must be a number array of %llu entries, one per token",
                g->path, (unsigned long long)n);
        m->scores = &v->v.arr;
    }
    if ((v = ofmt_gguf_find(g, "tokenizer.ggml.merges")) &&
        !(m->merges = ofmt_gguf_get_array(g, "tokenizer.ggml.merges", OFMT_GGUF_STRING)))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': 'tokenizer.ggml.merges' is not an array of strings", g->path);
    OLIVE_TRY(token_id(g, "tokenizer.ggml.bos_token_id", n, &m->bos));
    OLIVE_TRY(token_id(g, "tokenizer.ggml.eos_token_id", n, &m->eos));
    OLIVE_TRY(token_id(g, "tokenizer.ggml.unknown_token_id", n, &m->unk));
    OLIVE_TRY(token_id(g, "tokenizer.ggml.padding_token_id", n, &m->pad));
    m->has_add_bos = ofmt_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &m->add_bos);
    m->has_add_eos = ofmt_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &m->add_eos);
    if (!ofmt_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &m->add_space_prefix))
        m->add_space_prefix = 1;
    return OLIVE_OK;
}

static int read_texts(tok_meta *m)
{
    uint64_t n = m->tokens->n;
    m->text = olive_calloc(n ? n : 1, sizeof *m->text);
    if (!m->text)
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        OLIVE_TRY(token_text(m, i, &m->text[i]));
        OLIVE_TRY(olive_strmap_put(&m->ids, m->text[i], (void *)(uintptr_t)(i + 1)));
    }
    return OLIVE_OK;
}

static void meta_free(tok_meta *m)
{
    if (m->text)
        for (uint64_t i = 0; i < m->tokens->n; i++)
            free(m->text[i]);
    free(m->text);
    olive_strmap_free(&m->ids);
}

/* ---- JSON pieces ---------------------------------------------------------------------- */

/* Adds key -> value to obj, taking value; a NULL value (failed allocation) fails. */
static int put(json_t *obj, const char *key, json_t *value)
{
    if (value && !json_object_set_new(obj, key, value))
        return OLIVE_OK;
    return olive_fail(OLIVE_ENOMEM, "out of memory building the tokenizer files");
}

static int append(json_t *arr, json_t *value)
{
    if (value && !json_array_append_new(arr, value))
        return OLIVE_OK;
    return olive_fail(OLIVE_ENOMEM, "out of memory building the tokenizer files");
}

static json_t *added_token(uint64_t id, const char *content, int special)
{
    return json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)id, "content", content, "single_word", 0,
                     "lstrip", 0, "rstrip", 0, "normalized", 0, "special", special);
}

/* How token i is added on top of the model: 0 not at all, 1 as a plain added token
 * (USER_DEFINED, matched whole in the text), 2 as a special one (CONTROL, the unknown token).
 * In a byte-level vocabulary a token spelled outside the byte alphabet is a mislabelled piece
 * of text, and is left to the model (as transformers does). */
static int added_kind(const tok_meta *m, uint64_t i)
{
    int type = token_type(m, i);
    int kind = type == TOKEN_CONTROL || type == TOKEN_UNKNOWN || (int64_t)i == m->unk ? 2
               : type == TOKEN_USER_DEFINED                                           ? 1
                                                                                      : 0;
    if (kind && m->byte_level && !ofmt_gguf_str_eq(&m->tokens->strs[i], m->text[i]))
        return 0;
    return kind;
}

static int added_tokens(const tok_meta *m, json_t **out)
{
    json_t *arr = json_array();
    if (!arr)
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; i < m->tokens->n; i++) {
        int kind = added_kind(m, i);
        if (kind && append(arr, added_token(i, m->text[i], kind == 2))) {
            json_decref(arr);
            return OLIVE_ENOMEM;
        }
    }
    *out = arr;
    return OLIVE_OK;
}

static int vocab_object(const tok_meta *m, json_t **out)
{
    json_t *vocab = json_object();
    if (!vocab)
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; i < m->tokens->n; i++)
        if (put(vocab, m->text[i], json_integer((json_int_t)i))) {
            json_decref(vocab);
            return OLIVE_ENOMEM;
        }
    *out = vocab;
    return OLIVE_OK;
}

static int stored_merges(const tok_meta *m, json_t **out)
{
    json_t *arr = json_array();
    if (!arr)
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; m->merges && i < m->merges->n; i++) {
        const ofmt_gguf_str *s = &m->merges->strs[i];
        const char *sp = memchr(s->ptr, ' ', (size_t)s->len);
        if (!sp || sp == s->ptr || (uint64_t)(sp - s->ptr) + 1 >= s->len || memchr(s->ptr, 0, (size_t)s->len)) {
            json_decref(arr);
            return olive_fail(OLIVE_EFORMAT,
                              "GGUF file '%s': tokenizer.ggml.merges[%llu] is not two tokens separated by a space",
                              m->g->path, (unsigned long long)i);
        }
        size_t ll = (size_t)(sp - s->ptr), rl = (size_t)s->len - ll - 1;
        json_t *j = ofmt_bpe_merge_json(s->ptr, ll, sp + 1, rl);
        if (!j) {
            json_decref(arr);
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tokenizer.ggml.merges[%llu] is not valid UTF-8",
                              m->g->path, (unsigned long long)i);
        }
        if (append(arr, j)) {
            json_decref(arr);
            return OLIVE_ENOMEM;
        }
    }
    *out = arr;
    return OLIVE_OK;
}

/* SentencePiece files carry no merges: they are derived from the vocabulary, ranked by each
 * token's score (Gemma: by its position, earlier first, as transformers ranks them). */
static int derived_merges(const tok_meta *m, json_t **out)
{
    uint64_t n = m->tokens->n;
    double *scores = olive_calloc(n ? n : 1, sizeof *scores);
    if (!scores)
        return OLIVE_ENOMEM;
    for (uint64_t t = 0; t < n; t++) {
        if (m->spm_style == SPM_GEMMA)
            scores[t] = -(double)t;
        else if (!m->scores || !ofmt_gguf_array_f64(m->scores, t, &scores[t]))
            scores[t] = 0;
    }
    int rc = ofmt_bpe_derive_merges(out, m->text, n, &m->ids, scores);
    free(scores);
    return rc;
}

/* ---- tokenizer.json ------------------------------------------------------------------- */

static const pre_split *find_pre(const tok_meta *m)
{
    if (!m->pre)
        return &pre_splits[0];
    for (size_t i = 0; i < sizeof pre_splits / sizeof pre_splits[0]; i++)
        if (ofmt_gguf_str_eq(m->pre, pre_splits[i].pre))
            return &pre_splits[i];
    OLIVE_WARN("GGUF file '%s': tokenizer.ggml.pre '%.*s' is not known; using GPT-2's pre-tokenizer split", m->g->path,
               ofmt_gguf_str_quote_len(m->pre, 64), m->pre->ptr);
    return &pre_splits[0];
}

static json_t *byte_level_pre(const pre_split *ps)
{
    json_t *bl = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                           "use_regex", ps->gpt2_regex);
    if (!ps->regex)
        return bl;
    return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Split",
                     "pattern", "Regex", ps->regex, "behavior", "Isolated", "invert", 0, bl);
}

/* BOS / EOS around each sequence, as tokenizer.ggml.add_bos_token / add_eos_token ask. */
static json_t *template_processor(const tok_meta *m, int bos, int eos)
{
    json_t *single = json_array(), *pair = json_array(), *specials = json_object();
    json_t *res = NULL;
    if (!single || !pair || !specials)
        goto done;
    for (int seq = 0; seq < 2; seq++) {
        const char *name = seq ? "B" : "A";
        if (bos) {
            if (append(pair, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", m->text[m->bos], "type_id", seq)))
                goto done;
            if (!seq &&
                append(single, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", m->text[m->bos], "type_id", 0)))
                goto done;
        }
        if (append(pair, json_pack("{s:{s:s, s:i}}", "Sequence", "id", name, "type_id", seq)))
            goto done;
        if (!seq && append(single, json_pack("{s:{s:s, s:i}}", "Sequence", "id", name, "type_id", 0)))
            goto done;
        if (eos) {
            if (append(pair, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", m->text[m->eos], "type_id", seq)))
                goto done;
            if (!seq &&
                append(single, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", m->text[m->eos], "type_id", 0)))
                goto done;
        }
    }
    if (bos && put(specials, m->text[m->bos],
                   json_pack("{s:s, s:[I], s:[s]}", "id", m->text[m->bos], "ids", (json_int_t)m->bos, "tokens",
                             m->text[m->bos])))
        goto done;
    if (eos && put(specials, m->text[m->eos],
                   json_pack("{s:s, s:[I], s:[s]}", "id", m->text[m->eos], "ids", (json_int_t)m->eos, "tokens",
                             m->text[m->eos])))
        goto done;
    res = json_pack("{s:s, s:O, s:O, s:O}", "type", "TemplateProcessing", "single", single, "pair", pair,
                    "special_tokens", specials);
done:
    json_decref(single);
    json_decref(pair);
    json_decref(specials);
    return res;
}

static int post_processor(const tok_meta *m, int default_bos, json_t **out)
{
    int bos = (m->has_add_bos ? m->add_bos : default_bos) && m->bos >= 0;
    int eos = m->has_add_eos && m->add_eos && m->eos >= 0;
    if (!bos && !eos) {
        *out = m->byte_level ? json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                                         "trim_offsets", 0, "use_regex", 1)
                             : json_null();
    } else {
        *out = template_processor(m, bos, eos);
    }
    return *out ? OLIVE_OK : OLIVE_ENOMEM;
}

static int tokenizer_json(tok_meta *m, const pre_split *ps, json_t **out)
{
    json_t *root = NULL, *model = NULL, *vocab = NULL, *merges = NULL, *added = NULL, *post = NULL;
    json_t *pre = NULL, *decoder = NULL, *normalizer = json_null();
    int rc;

    rc = vocab_object(m, &vocab);
    if (!rc)
        rc = m->byte_level || m->merges ? stored_merges(m, &merges) : derived_merges(m, &merges);
    if (!rc)
        rc = added_tokens(m, &added);
    if (!rc)
        rc = post_processor(m, !m->byte_level, &post);
    if (rc)
        goto fail;
    if (m->byte_level) {
        pre = byte_level_pre(ps);
        decoder = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1,
                            "use_regex", 1);
        model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b}", "type", "BPE", "dropout", "unk_token",
                          "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
                          "ignore_merges", ps->ignore_merges);
    } else {
        /* SentencePiece: spaces become U+2581, and (but for Gemma) one is put before the text */
        int prefix = m->add_space_prefix && m->spm_style != SPM_GEMMA;
        if (m->spm_style == SPM_LLAMA) {
            pre = json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", "\xe2\x96\x81",
                            "prepend_scheme", prefix ? "first" : "never", "split", 0);
        } else if (m->spm_style == SPM_PHI3) {
            pre = json_null();
            json_decref(normalizer);
            normalizer = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}]}", "type", "Sequence", "normalizers", "type",
                                   "Replace", "pattern", "String", " ", "content", "\xe2\x96\x81");
            if (normalizer && prefix &&
                json_array_insert_new(json_object_get(normalizer, "normalizers"), 0,
                                      json_pack("{s:s, s:s}", "type", "Prepend", "prepend", "\xe2\x96\x81")))
                goto nomem;
        } else {
            pre = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "String", " ", "behavior",
                            "MergedWithPrevious", "invert", 0);
            json_decref(normalizer);
            normalizer = json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", " ", "content",
                                   "\xe2\x96\x81");
        }
        decoder = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]}", "type", "Sequence", "decoders", "type",
                            "Replace", "pattern", "String", "\xe2\x96\x81", "content", " ", "type", "ByteFallback",
                            "type", "Fuse");
        if (decoder && prefix &&
            append(json_object_get(decoder, "decoders"),
                   json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ", "start", 1, "stop", 0)))
            goto nomem;
        model = json_pack("{s:s, s:n, s:o, s:n, s:n, s:b, s:b, s:b}", "type", "BPE", "dropout", "unk_token",
                          m->unk >= 0 ? json_string(m->text[m->unk]) : json_null(), "continuing_subword_prefix",
                          "end_of_word_suffix", "fuse_unk", 1, "byte_fallback", 1, "ignore_merges", 0);
    }
    if (!pre || !decoder || !model || !normalizer || put(model, "vocab", vocab))
        goto nomem;
    vocab = NULL;
    if (put(model, "merges", merges))
        goto nomem;
    merges = NULL;
    root = json_pack("{s:s, s:n, s:n, s:o, s:o, s:o, s:o, s:o, s:o}", "version", "1.0", "truncation", "padding",
                     "added_tokens", added, "normalizer", normalizer, "pre_tokenizer", pre, "post_processor", post,
                     "decoder", decoder, "model", model);
    /* json_pack's "o" steals the references even when it fails */
    added = pre = post = decoder = model = normalizer = NULL;
    if (!root)
        return OLIVE_ENOMEM;
    *out = root;
    return OLIVE_OK;
nomem:
    rc = OLIVE_ENOMEM;
fail:
    json_decref(vocab);
    json_decref(merges);
    json_decref(added);
    json_decref(post);
    json_decref(pre);
    json_decref(decoder);
    json_decref(model);
    json_decref(normalizer);
    return rc;
}

/* ---- tokenizer_config.json ------------------------------------------------------------ */

static int config_token(json_t *cfg, const char *key, const tok_meta *m, int64_t id)
{
    return put(cfg, key, id >= 0 ? json_string(m->text[id]) : json_null());
}

static int tokenizer_config(const tok_meta *m, const pre_split *ps, json_t **out)
{
    json_t *cfg = json_object(), *decoder = json_object();
    uint64_t ctx;
    char key[160];
    int rc = cfg && decoder ? OLIVE_OK : OLIVE_ENOMEM;

    for (uint64_t i = 0; i < m->tokens->n && !rc; i++) {
        int kind = added_kind(m, i);
        if (!kind)
            continue;
        snprintf(key, sizeof key, "%llu", (unsigned long long)i);
        rc = put(decoder, key,
                 json_pack("{s:s, s:b, s:b, s:b, s:b, s:b}", "content", m->text[i], "lstrip", 0, "normalized", 0,
                           "rstrip", 0, "single_word", 0, "special", kind == 2));
    }
    if (!rc) {
        rc = put(cfg, "added_tokens_decoder", decoder);
        decoder = NULL;
    }
    if (!rc)
        rc = put(cfg, "add_bos_token", json_boolean(m->has_add_bos ? m->add_bos : !m->byte_level));
    if (!rc)
        rc = put(cfg, "add_eos_token", json_boolean(m->has_add_eos && m->add_eos));
    if (!rc)
        rc = config_token(cfg, "bos_token", m, m->bos);
    if (!rc)
        rc = config_token(cfg, "eos_token", m, m->eos);
    if (!rc)
        rc = config_token(cfg, "pad_token", m, m->pad);
    if (!rc)
        rc = config_token(cfg, "unk_token", m, m->unk);
    if (!rc && m->chat_template)
        rc = put(cfg, "chat_template", json_stringn(m->chat_template->ptr, (size_t)m->chat_template->len));
    if (!rc)
        rc = put(cfg, "clean_up_tokenization_spaces", json_false());
    const ofmt_gguf_str *arch = ofmt_gguf_get_str(m->g, "general.architecture");
    if (!rc && arch && arch->len < 100) {
        snprintf(key, sizeof key, "%.*s.context_length", (int)arch->len, arch->ptr);
        if (ofmt_gguf_get_u64(m->g, key, &ctx))
            rc = put(cfg, "model_max_length", json_integer((json_int_t)ctx));
    }
    if (!rc)
        rc = put(cfg, "tokenizer_class",
                 json_string(m->byte_level               ? ps->tokenizer_class
                             : m->spm_style == SPM_GEMMA ? "GemmaTokenizer"
                                                         : "LlamaTokenizer"));
    json_decref(decoder);
    if (rc) {
        json_decref(cfg);
        return rc;
    }
    *out = cfg;
    return OLIVE_OK;
}

/* ---- entry ---------------------------------------------------------------------------- */

static int add_generated(ofmt_checkpoint *c, const char *name, json_t *doc)
{
    ofmt_generated_file f = {olive_strdup(name), json_dumps(doc, JSON_INDENT(2))};
    size_t cap = c->n_generated;
    if (!f.name || !f.text || OLIVE_PUSH(c->generated, c->n_generated, cap, f)) {
        free(f.name);
        free(f.text);
        return olive_fail(OLIVE_ENOMEM, "out of memory writing %s", name);
    }
    return OLIVE_OK;
}

int ofmt_gguf_tokenizer_files(ofmt_checkpoint *c, const ofmt_gguf *g)
{
    tok_meta m = {0};
    json_t *tok = NULL, *cfg = NULL;
    const ofmt_gguf_str *model = ofmt_gguf_get_str(g, "tokenizer.ggml.model");
    int rc;

    if (!model)
        return OLIVE_OK;
    if (!ofmt_gguf_str_eq(model, "gpt2") && !ofmt_gguf_str_eq(model, "llama")) {
        OLIVE_WARN("GGUF file '%s': tokenizer model '%.*s' is not supported; no tokenizer.json is written", g->path,
                   ofmt_gguf_str_quote_len(model, 64), model->ptr);
        return OLIVE_OK;
    }
    m.byte_level = ofmt_gguf_str_eq(model, "gpt2");
    const ofmt_gguf_str *arch = ofmt_gguf_get_str(g, "general.architecture");
    if (ofmt_gguf_str_eq(arch, "phi3"))
        m.spm_style = SPM_PHI3;
    else if (ofmt_gguf_str_eq(arch, "gemma") || ofmt_gguf_str_eq(arch, "gemma2") || ofmt_gguf_str_eq(arch, "gemma3"))
        m.spm_style = SPM_GEMMA;
    rc = read_meta(&m, g);
    if (!rc)
        rc = read_texts(&m);
    if (!rc) {
        const pre_split *ps = m.byte_level ? find_pre(&m) : &pre_splits[0];
        rc = tokenizer_json(&m, ps, &tok);
        if (!rc)
            rc = tokenizer_config(&m, ps, &cfg);
    }
    if (!rc)
        rc = add_generated(c, "tokenizer.json", tok);
    if (!rc)
        rc = add_generated(c, "tokenizer_config.json", cfg);
    json_decref(tok);
    json_decref(cfg);
    meta_free(&m);
    return rc;
}
