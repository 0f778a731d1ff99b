/* WordPiece: greedy longest-match-first from the left, the continuing prefix on every piece
 * but the first; a word with an unmatched rest, or longer than max_input_chars_per_word
 * characters, becomes the unk token. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_model.h"

int otok_wordpiece_parse(otok_model *m, json_t *j);
int otok_wordpiece_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);
int otok_wordlevel_parse(otok_model *m, json_t *j);
int otok_wordlevel_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out);

int otok_wordpiece_parse(otok_model *m, json_t *j)
{
    const char *s = "[UNK]", *p = "##";
    size_t n = 5, pn = 2;
    OLIVE_TRY(otok_json_string(j, "model", "unk_token", 0, &s, &n));
    OLIVE_TRY(otok_json_string(j, "model", "continuing_subword_prefix", 0, &p, &pn));
    m->max_input_chars_per_word = 100;
    OLIVE_TRY(otok_json_uint(j, "model", "max_input_chars_per_word", UINT64_MAX, &m->max_input_chars_per_word));
    if (!(m->unk_token = olive_strndup(s, n)) || !(m->prefix = olive_strndup(p, pn)))
        return OLIVE_ENOMEM;
    m->prefix_len = pn;
    OLIVE_TRY(otok_model_read_vocab(m, j));
    m->unk_id = otok_vocab_get(&m->vocab, m->unk_token, n);
    return OLIVE_OK;
}

static int push_unk(const otok_model *m, otok_ids *out)
{
    if (m->unk_id < 0)
        return olive_fail(OLIVE_EINVALID, "model.unk_token '%s' is not in the vocabulary", m->unk_token);
    return otok_ids_push(out, m->unk_id);
}

int otok_wordpiece_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out)
{
    if (otok_utf8_count(s, len) > m->max_input_chars_per_word)
        return push_unk(m, out);
    size_t first = out->n;
    char *buf = olive_malloc(m->prefix_len + len + 1);
    if (!buf)
        return OLIVE_ENOMEM;
    memcpy(buf, m->prefix, m->prefix_len);
    int rc = OLIVE_OK;
    for (size_t start = 0; start < len && !rc;) {
        size_t end = len;
        int32_t found = -1;
        while (start < end) {
            int32_t id;
            if (start > 0) {
                memcpy(buf + m->prefix_len, s + start, end - start);
                id = otok_vocab_get(&m->vocab, buf, m->prefix_len + end - start);
            } else {
                id = otok_vocab_get(&m->vocab, s, end);
            }
            if (id >= 0) {
                found = id;
                break;
            }
            end = otok_utf8_prev(s, end);
            if (end < start)
                end = start;
        }
        if (found < 0) {
            out->n = first;
            free(buf);
            return push_unk(m, out);
        }
        rc = otok_ids_push(out, found);
        start = end;
    }
    free(buf);
    return rc;
}

int otok_wordlevel_parse(otok_model *m, json_t *j)
{
    const char *s = "<unk>";
    size_t n = 5;
    OLIVE_TRY(otok_json_string(j, "model", "unk_token", 0, &s, &n));
    if (!(m->unk_token = olive_strndup(s, n)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(otok_model_read_vocab(m, j));
    m->unk_id = otok_vocab_get(&m->vocab, m->unk_token, n);
    return OLIVE_OK;
}

int otok_wordlevel_tokenize(const otok_model *m, const char *s, size_t len, otok_ids *out)
{
    int32_t id = otok_vocab_get(&m->vocab, s, len);
    if (id >= 0)
        return otok_ids_push(out, id);
    return push_unk(m, out);
}
