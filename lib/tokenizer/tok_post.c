/* Post-processing, truncation and padding. */
#include "tokenizer/tok_post.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_json.h"

void otok_encoding_free(otok_encoding *e)
{
    otok_ids_free(&e->ids);
    otok_ids_free(&e->type_ids);
    otok_ids_free(&e->mask);
}

typedef enum kind { PP_TEMPLATE, PP_BERT, PP_ROBERTA, PP_BYTELEVEL, PP_SEQUENCE } kind;

/* One item of a template: sequence A (seq 0) or B (1), or a special token's ids. */
typedef struct item {
    int seq; /* 0, 1, or -1 for a special token */
    int32_t type_id;
    int32_t *ids; /* the special token's ids */
    size_t n_ids;
} item;

struct otok_post {
    kind kind;
    item *single, *pair;
    size_t n_single, n_pair;
    int32_t cls, sep;  /* Bert, Roberta */
    otok_post **items; /* Sequence */
    size_t n_items;
};

static void free_items(item *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].ids);
    free(v);
}

void otok_post_free(otok_post *p)
{
    if (!p)
        return;
    free_items(p->single, p->n_single);
    free_items(p->pair, p->n_pair);
    for (size_t i = 0; i < p->n_items; i++)
        otok_post_free(p->items[i]);
    free(p->items);
    free(p);
}

static int parse_template(item **out, size_t *n_out, json_t *tpl, json_t *specials, const char *path)
{
    if (json_is_string(tpl))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: templates as strings are not supported; use the "
                          "list form tokenizers writes",
                          path);
    if (!json_is_array(tpl))
        return otok_json_fail(path, NULL, "expected a list of pieces");
    size_t n = json_array_size(tpl);
    item *v = olive_calloc(n ? n : 1, sizeof *v);
    if (!v)
        return OLIVE_ENOMEM;
    *out = v;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(tpl, i);
        json_t *seq = json_object_get(e, "Sequence"), *sp = json_object_get(e, "SpecialToken");
        json_t *body = seq ? seq : sp;
        if (!json_is_object(body))
            return otok_json_fail(path, NULL, "piece %zu is neither {\"Sequence\"} nor {\"SpecialToken\"}", i);
        const char *id = NULL;
        uint64_t type_id = 0;
        char where[256];
        snprintf(where, sizeof where, "%s[%zu]", path, i);
        OLIVE_TRY(otok_json_string(body, where, "id", 1, &id, NULL));
        OLIVE_TRY(otok_json_uint(body, where, "type_id", INT32_MAX, &type_id));
        v[i].type_id = (int32_t)type_id;
        *n_out = i + 1;
        if (seq) {
            if (strcmp(id, "A") && strcmp(id, "B"))
                return otok_json_fail(where, "id", "a sequence is A or B, not '%s'", id);
            v[i].seq = !strcmp(id, "B");
            continue;
        }
        v[i].seq = -1;
        json_t *tok = json_object_get(specials, id);
        json_t *ids = json_object_get(tok, "ids");
        if (!json_is_array(ids))
            return otok_json_fail(path, NULL, "special token '%s' is missing from special_tokens", id);
        size_t k = json_array_size(ids);
        if (!(v[i].ids = olive_calloc(k ? k : 1, sizeof *v[i].ids)))
            return OLIVE_ENOMEM;
        for (size_t t = 0; t < k; t++) {
            json_t *x = json_array_get(ids, t);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > INT32_MAX)
                return otok_json_fail(path, NULL, "special token '%s': ids must be integers in 0..%d", id, INT32_MAX);
            v[i].ids[t] = (int32_t)json_integer_value(x);
        }
        v[i].n_ids = k;
    }
    return OLIVE_OK;
}

static int parse_pair_token(json_t *j, const char *path, const char *key, int32_t *id)
{
    json_t *v = json_object_get(j, key);
    json_t *x = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) || !json_is_integer(x) ||
        json_integer_value(x) < 0 || json_integer_value(x) > INT32_MAX)
        return otok_json_fail(path, key, "expected [token, id]");
    *id = (int32_t)json_integer_value(x);
    return OLIVE_OK;
}

static int parse_body(otok_post *p, json_t *j, const char *path, const char *type, int depth)
{
    if (!strcmp(type, "TemplateProcessing")) {
        p->kind = PP_TEMPLATE;
        json_t *sp = json_object_get(j, "special_tokens");
        char *a = otok_json_path(path, "single", 0), *b = otok_json_path(path, "pair", 0);
        int rc = (!a || !b) ? OLIVE_ENOMEM
                            : parse_template(&p->single, &p->n_single, json_object_get(j, "single"), sp, a);
        if (!rc)
            rc = parse_template(&p->pair, &p->n_pair, json_object_get(j, "pair"), sp, b);
        free(a);
        free(b);
        return rc;
    }
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        p->kind = !strcmp(type, "BertProcessing") ? PP_BERT : PP_ROBERTA;
        OLIVE_TRY(parse_pair_token(j, path, "cls", &p->cls));
        return parse_pair_token(j, path, "sep", &p->sep);
    }
    if (!strcmp(type, "ByteLevel")) {
        p->kind = PP_BYTELEVEL;
        return OLIVE_OK;
    }
    if (!strcmp(type, "Sequence")) {
        p->kind = PP_SEQUENCE;
        if (depth >= OTOK_MAX_DEPTH)
            return otok_json_fail(path, NULL, "Sequence nested deeper than %d", OTOK_MAX_DEPTH);
        json_t *items = json_object_get(j, "processors");
        if (!json_is_array(items))
            return otok_json_fail(path, "processors", "expected an array");
        size_t count = json_array_size(items);
        if (!(p->items = olive_calloc(count ? count : 1, sizeof *p->items)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < count; i++) {
            char *sub = olive_asprintf("%s.processors[%zu]", path, i);
            if (!sub)
                return OLIVE_ENOMEM;
            int rc = otok_post_parse(&p->items[i], json_array_get(items, i), sub, depth + 1);
            free(sub);
            if (rc)
                return rc;
            p->n_items = i + 1;
        }
        return OLIVE_OK;
    }
    return olive_fail(OLIVE_EUNSUPPORTED, "%s: post-processor type '%s' is not supported", path, type);
}

int otok_post_parse(otok_post **out, json_t *j, const char *path, int depth)
{
    const char *type;
    OLIVE_TRY(otok_json_type(j, path, &type));
    otok_post *p = olive_calloc(1, sizeof *p);
    if (!p)
        return OLIVE_ENOMEM;
    int rc = parse_body(p, j, path, type, depth);
    if (rc) {
        otok_post_free(p);
        return rc;
    }
    *out = p;
    return OLIVE_OK;
}

size_t otok_post_added(const otok_post *p, int pair)
{
    if (!p)
        return 0;
    size_t n = 0;
    switch (p->kind) {
    case PP_TEMPLATE: {
        const item *v = pair ? p->pair : p->single;
        size_t k = pair ? p->n_pair : p->n_single;
        for (size_t i = 0; i < k; i++)
            n += v[i].seq < 0 ? v[i].n_ids : 0;
        return n;
    }
    case PP_BERT: return pair ? 3 : 2;
    case PP_ROBERTA: return pair ? 4 : 2;
    case PP_BYTELEVEL: return 0;
    case PP_SEQUENCE:
        for (size_t i = 0; i < p->n_items; i++)
            n += otok_post_added(p->items[i], pair);
        return n;
    }
    return 0;
}

static int append(otok_encoding *out, const otok_encoding *e, int set_type, int32_t type_id)
{
    for (size_t i = 0; i < e->ids.n; i++) {
        OLIVE_TRY(otok_ids_push(&out->ids, e->ids.v[i]));
        OLIVE_TRY(otok_ids_push(&out->type_ids, set_type ? type_id : e->type_ids.v[i]));
        OLIVE_TRY(otok_ids_push(&out->mask, 1));
    }
    return OLIVE_OK;
}

static int special(otok_encoding *out, int32_t id, int32_t type_id)
{
    OLIVE_TRY(otok_ids_push(&out->ids, id));
    OLIVE_TRY(otok_ids_push(&out->type_ids, type_id));
    return otok_ids_push(&out->mask, 1);
}

/* Applies one processor to the list of 1 or 2 encodings in *seqs (*n of them). */
static int apply(const otok_post *p, otok_encoding *seqs, size_t *n, int add)
{
    otok_encoding out = {0};
    int rc = OLIVE_OK;
    int pair = *n == 2;
    switch (p->kind) {
    case PP_BYTELEVEL: return OLIVE_OK;
    case PP_SEQUENCE:
        for (size_t i = 0; i < p->n_items; i++)
            OLIVE_TRY(apply(p->items[i], seqs, n, add));
        return OLIVE_OK;
    case PP_TEMPLATE: {
        const item *v = pair ? p->pair : p->single;
        size_t k = pair ? p->n_pair : p->n_single;
        for (size_t i = 0; i < k && !rc; i++) {
            if (v[i].seq >= 0) {
                if ((size_t)v[i].seq < *n)
                    rc = append(&out, &seqs[v[i].seq], 1, v[i].type_id);
            } else if (add) {
                for (size_t t = 0; t < v[i].n_ids && !rc; t++)
                    rc = special(&out, v[i].ids[t], v[i].type_id);
            }
        }
        break;
    }
    case PP_BERT:
    case PP_ROBERTA:
        if (!add) {
            /* Roberta's type ids are all 0, with special tokens or without */
            int roberta = p->kind == PP_ROBERTA;
            rc = append(&out, &seqs[0], roberta, 0);
            if (!rc && pair)
                rc = append(&out, &seqs[1], roberta, 0);
            break;
        }
        rc = special(&out, p->cls, 0);
        if (!rc)
            rc = append(&out, &seqs[0], 1, 0);
        if (!rc)
            rc = special(&out, p->sep, 0);
        if (!rc && pair) {
            int bert = p->kind == PP_BERT;
            if (!bert)
                rc = special(&out, p->sep, 0);
            if (!rc)
                rc = append(&out, &seqs[1], 1, bert ? 1 : 0);
            if (!rc)
                rc = special(&out, p->sep, bert ? 1 : 0);
        }
        break;
    }
    if (rc) {
        otok_encoding_free(&out);
        return rc;
    }
    for (size_t i = 0; i < *n; i++)
        otok_encoding_free(&seqs[i]);
    seqs[0] = out;
    *n = 1;
    return OLIVE_OK;
}

static int copy(otok_encoding *dst, const otok_encoding *src)
{
    return append(dst, src, 0, 0);
}

int otok_post_process(const otok_post *p, const otok_encoding *a, const otok_encoding *b, int add_special,
                      otok_encoding *out)
{
    otok_encoding seqs[2];
    memset(seqs, 0, sizeof seqs);
    size_t n = b ? 2 : 1;
    int rc = copy(&seqs[0], a);
    if (!rc && b)
        rc = copy(&seqs[1], b);
    if (!rc && p)
        rc = apply(p, seqs, &n, add_special);
    /* what is left (no processor, or ByteLevel) is concatenated */
    for (size_t i = 0; i < n && !rc; i++)
        rc = copy(out, &seqs[i]);
    for (size_t i = 0; i < 2; i++)
        otok_encoding_free(&seqs[i]);
    return rc;
}

int otok_truncation_parse(otok_truncation *t, json_t *j)
{
    memset(t, 0, sizeof *t);
    if (!j || json_is_null(j))
        return OLIVE_OK;
    if (!json_is_object(j))
        return otok_json_fail("truncation", NULL, "expected an object or null");
    t->enabled = 1;
    uint64_t v = 512;
    OLIVE_TRY(otok_json_uint(j, "truncation", "max_length", SIZE_MAX / 4, &v));
    t->max_length = (size_t)v;
    v = 0;
    OLIVE_TRY(otok_json_uint(j, "truncation", "stride", SIZE_MAX / 4, &v));
    t->stride = (size_t)v;
    const char *s = NULL;
    OLIVE_TRY(otok_json_string(j, "truncation", "strategy", 0, &s, NULL));
    if (s) {
        if (!strcmp(s, "LongestFirst"))
            t->strategy = OTOK_LONGEST_FIRST;
        else if (!strcmp(s, "OnlyFirst"))
            t->strategy = OTOK_ONLY_FIRST;
        else if (!strcmp(s, "OnlySecond"))
            t->strategy = OTOK_ONLY_SECOND;
        else
            return otok_json_fail("truncation", "strategy", "'%s' is not LongestFirst, OnlyFirst or OnlySecond", s);
    }
    s = NULL;
    OLIVE_TRY(otok_json_string(j, "truncation", "direction", 0, &s, NULL));
    if (s && strcmp(s, "Right") && strcmp(s, "Left"))
        return otok_json_fail("truncation", "direction", "'%s' is not Right or Left", s);
    t->left = s && !strcmp(s, "Left");
    return OLIVE_OK;
}

int otok_padding_parse(otok_padding *p, json_t *j)
{
    memset(p, 0, sizeof *p);
    if (!j || json_is_null(j))
        return OLIVE_OK;
    if (!json_is_object(j))
        return otok_json_fail("padding", NULL, "expected an object or null");
    p->enabled = 1;
    json_t *st = json_object_get(j, "strategy");
    if (json_is_object(st) && json_object_get(st, "Fixed")) {
        uint64_t v = 0;
        OLIVE_TRY(otok_json_uint(st, "padding.strategy", "Fixed", SIZE_MAX / 4, &v));
        p->fixed = (size_t)v;
        if (!p->fixed) /* Fixed(0) pads nothing; 0 here means "longest", which is the same */
            p->fixed = 0;
    } else if (st && !json_is_null(st) && !(json_is_string(st) && !strcmp(json_string_value(st), "BatchLongest"))) {
        return otok_json_fail("padding", "strategy", "expected \"BatchLongest\" or {\"Fixed\": n}");
    }
    uint64_t v = 0;
    OLIVE_TRY(otok_json_uint(j, "padding", "pad_to_multiple_of", SIZE_MAX / 4, &v));
    p->multiple = (size_t)v;
    v = 0;
    OLIVE_TRY(otok_json_uint(j, "padding", "pad_id", INT32_MAX, &v));
    p->pad_id = (int32_t)v;
    v = 0;
    OLIVE_TRY(otok_json_uint(j, "padding", "pad_type_id", INT32_MAX, &v));
    p->pad_type_id = (int32_t)v;
    const char *s = NULL;
    OLIVE_TRY(otok_json_string(j, "padding", "direction", 0, &s, NULL));
    if (s && strcmp(s, "Right") && strcmp(s, "Left"))
        return otok_json_fail("padding", "direction", "'%s' is not Right or Left", s);
    p->left = s && !strcmp(s, "Left");
    return OLIVE_OK;
}

static void cut(otok_encoding *e, size_t keep, int left)
{
    if (e->ids.n <= keep)
        return;
    if (left) {
        size_t drop = e->ids.n - keep;
        memmove(e->ids.v, e->ids.v + drop, keep * sizeof *e->ids.v);
        memmove(e->type_ids.v, e->type_ids.v + drop, keep * sizeof *e->type_ids.v);
        memmove(e->mask.v, e->mask.v + drop, keep * sizeof *e->mask.v);
    }
    e->ids.n = e->type_ids.n = e->mask.n = keep;
}

int otok_truncate(const otok_truncation *t, size_t reserved, otok_encoding *a, otok_encoding *b)
{
    if (!t->enabled)
        return OLIVE_OK;
    if (reserved > t->max_length)
        return olive_fail(OLIVE_EINVALID, "truncation max_length %zu is smaller than the %zu special tokens added",
                          t->max_length, reserved);
    size_t max = t->max_length - reserved;
    if (max == 0) {
        cut(a, 0, t->left);
        if (b)
            cut(b, 0, t->left);
        return OLIVE_OK;
    }
    size_t total = a->ids.n + (b ? b->ids.n : 0);
    if (total <= max)
        return OLIVE_OK;
    size_t remove = total - max;
    if (t->strategy == OTOK_LONGEST_FIRST) {
        if (!b) {
            cut(a, total - remove, t->left);
            return OLIVE_OK;
        }
        size_t n1 = a->ids.n, n2 = b->ids.n;
        int swap = n1 > n2;
        if (swap) {
            size_t x = n1;
            n1 = n2;
            n2 = x;
        }
        if (n1 > max)
            n2 = n1;
        else
            n2 = n1 > max - n1 ? n1 : max - n1;
        if (n1 + n2 > max) {
            n1 = max / 2;
            n2 = n1 + max % 2;
        }
        if (swap) {
            size_t x = n1;
            n1 = n2;
            n2 = x;
        }
        cut(a, n1, t->left);
        cut(b, n2, t->left);
        return OLIVE_OK;
    }
    otok_encoding *target = t->strategy == OTOK_ONLY_FIRST ? a : b;
    if (!target)
        return olive_fail(OLIVE_EINVALID, "truncation strategy OnlySecond needs a pair of sequences");
    if (target->ids.n <= remove)
        return olive_fail(OLIVE_EINVALID, "truncation: the sequence to truncate is shorter than the %zu ids to remove",
                          remove);
    cut(target, target->ids.n - remove, t->left);
    return OLIVE_OK;
}

int otok_pad(const otok_padding *p, otok_encoding *enc, size_t n)
{
    if (!p->enabled || n == 0)
        return OLIVE_OK;
    size_t target = p->fixed;
    if (!target)
        for (size_t i = 0; i < n; i++)
            if (enc[i].ids.n > target)
                target = enc[i].ids.n;
    if (p->multiple && target % p->multiple)
        target += p->multiple - target % p->multiple;
    for (size_t i = 0; i < n; i++) {
        otok_encoding *e = &enc[i];
        size_t have = e->ids.n;
        if (have >= target)
            continue;
        size_t add = target - have;
        for (size_t k = 0; k < add; k++) {
            OLIVE_TRY(otok_ids_push(&e->ids, p->pad_id));
            OLIVE_TRY(otok_ids_push(&e->type_ids, p->pad_type_id));
            OLIVE_TRY(otok_ids_push(&e->mask, 0));
        }
        if (p->left) {
            /* rotate the padding to the front */
            otok_ids *arrs[3] = {&e->ids, &e->type_ids, &e->mask};
            for (int t = 0; t < 3; t++) {
                int32_t *v = arrs[t]->v;
                int32_t pad = v[have];
                memmove(v + add, v, have * sizeof *v);
                for (size_t k = 0; k < add; k++)
                    v[k] = pad;
            }
        }
    }
    return OLIVE_OK;
}
