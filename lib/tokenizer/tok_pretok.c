/* Pre-tokenizers, each mapping the list of pieces to a new one as PreTokenizedString::split. */
#include "tokenizer/tok_pretok.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "tokenizer/tok_bytelevel.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_unicode.h"

int otok_parse_pattern(otok_regex **out, json_t *j, const char *path);

typedef enum kind {
    P_BYTELEVEL,
    P_SPLIT,
    P_WHITESPACE,
    P_WHITESPACE_SPLIT,
    P_BERT,
    P_METASPACE,
    P_DIGITS,
    P_PUNCTUATION,
    P_CHAR_DELIMITER,
    P_FIXED_LENGTH,
    P_SEQUENCE,
} kind;

enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

struct otok_pretok {
    kind kind;
    otok_regex *re;       /* ByteLevel (when use_regex), Split, Whitespace */
    int add_prefix_space; /* ByteLevel */
    int behavior, invert; /* Split, Punctuation */
    uint32_t ch;          /* Metaspace replacement, CharDelimiterSplit delimiter */
    int prepend, split;   /* Metaspace */
    int individual;       /* Digits */
    uint64_t length;      /* FixedLength: characters per piece */
    otok_pretok **items;  /* Sequence */
    size_t n_items;
};

void otok_pretok_free(otok_pretok *p)
{
    if (!p)
        return;
    otok_regex_free(p->re);
    for (size_t i = 0; i < p->n_items; i++)
        otok_pretok_free(p->items[i]);
    free(p->items);
    free(p);
}

static int parse_behavior(json_t *j, const char *path, int *out)
{
    const char *b = NULL;
    OLIVE_TRY(otok_json_string(j, path, "behavior", 0, &b, NULL));
    if (!b)
        return OLIVE_OK;
    int v = otok_behavior_parse(b);
    if (v < 0)
        return otok_json_fail(path, "behavior",
                              "'%s' is not Removed, Isolated, MergedWithPrevious, "
                              "MergedWithNext or Contiguous",
                              b);
    *out = v;
    return OLIVE_OK;
}

static int parse_body(otok_pretok *p, json_t *j, const char *path, const char *type, int depth)
{
    if (!strcmp(type, "ByteLevel")) {
        p->kind = P_BYTELEVEL;
        int use_regex = 1;
        p->add_prefix_space = 1;
        OLIVE_TRY(otok_json_bool(j, path, "add_prefix_space", &p->add_prefix_space));
        OLIVE_TRY(otok_json_bool(j, path, "use_regex", &use_regex));
        if (use_regex)
            OLIVE_TRY(otok_regex_compile(&p->re, OTOK_GPT2_PATTERN, strlen(OTOK_GPT2_PATTERN), path));
    } else if (!strcmp(type, "Split")) {
        p->kind = P_SPLIT;
        p->behavior = -1;
        OLIVE_TRY(otok_parse_pattern(&p->re, j, path));
        OLIVE_TRY(parse_behavior(j, path, &p->behavior));
        if (p->behavior < 0)
            return otok_json_fail(path, "behavior", "missing");
        OLIVE_TRY(otok_json_bool(j, path, "invert", &p->invert));
    } else if (!strcmp(type, "Whitespace")) {
        p->kind = P_WHITESPACE;
        /* Rust's regex crate: \w and \s are Unicode's word and White_Space classes */
        {
            static const char ws[] = "\\w+|[^\\w\\s]+";
            OLIVE_TRY(otok_regex_compile_rust(&p->re, ws, sizeof ws - 1, path));
        }
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p->kind = P_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        p->kind = P_BERT;
    } else if (!strcmp(type, "Metaspace")) {
        p->kind = P_METASPACE;
        OLIVE_TRY(otok_json_char(j, path, "replacement", &p->ch));
        const char *scheme = NULL;
        OLIVE_TRY(otok_json_string(j, path, "prepend_scheme", 0, &scheme, NULL));
        int aps = -1;
        OLIVE_TRY(otok_json_bool(j, path, "add_prefix_space", &aps));
        p->prepend = PREPEND_ALWAYS;
        if (scheme) {
            if (!strcmp(scheme, "always"))
                p->prepend = PREPEND_ALWAYS;
            else if (!strcmp(scheme, "first"))
                p->prepend = PREPEND_FIRST;
            else if (!strcmp(scheme, "never"))
                p->prepend = PREPEND_NEVER;
            else
                return otok_json_fail(path, "prepend_scheme", "'%s' is not always, first or never", scheme);
        }
        if (aps == 0) {
            if (scheme && p->prepend != PREPEND_NEVER)
                return otok_json_fail(path, "add_prefix_space", "false contradicts prepend_scheme '%s'", scheme);
            p->prepend = PREPEND_NEVER;
        }
        p->split = 1;
        OLIVE_TRY(otok_json_bool(j, path, "split", &p->split));
    } else if (!strcmp(type, "Digits")) {
        p->kind = P_DIGITS;
        OLIVE_TRY(otok_json_bool(j, path, "individual_digits", &p->individual));
    } else if (!strcmp(type, "Punctuation")) {
        p->kind = P_PUNCTUATION;
        p->behavior = OTOK_ISOLATED;
        OLIVE_TRY(parse_behavior(j, path, &p->behavior));
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        p->kind = P_CHAR_DELIMITER;
        OLIVE_TRY(otok_json_char(j, path, "delimiter", &p->ch));
    } else if (!strcmp(type, "FixedLength")) {
        p->kind = P_FIXED_LENGTH;
        p->length = 5;
        OLIVE_TRY(otok_json_uint(j, path, "length", UINT32_MAX, &p->length));
        if (!p->length)
            return otok_json_fail(path, "length", "must be at least 1");
    } else if (!strcmp(type, "Sequence")) {
        p->kind = P_SEQUENCE;
        if (depth >= OTOK_MAX_DEPTH)
            return otok_json_fail(path, NULL, "Sequence nested deeper than %d", OTOK_MAX_DEPTH);
        json_t *items = json_object_get(j, "pretokenizers");
        if (!json_is_array(items))
            return otok_json_fail(path, "pretokenizers", "expected an array");
        size_t count = json_array_size(items);
        if (!(p->items = olive_calloc(count ? count : 1, sizeof *p->items)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < count; i++) {
            char *sub = olive_asprintf("%s.pretokenizers[%zu]", path, i);
            if (!sub)
                return OLIVE_ENOMEM;
            int rc = otok_pretok_parse(&p->items[i], json_array_get(items, i), sub, depth + 1);
            free(sub);
            if (rc)
                return rc;
            p->n_items = i + 1;
        }
    } else {
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: pre-tokenizer type '%s' is not supported", path, type);
    }
    return OLIVE_OK;
}

int otok_pretok_parse(otok_pretok **out, json_t *j, const char *path, int depth)
{
    const char *type;
    OLIVE_TRY(otok_json_type(j, path, &type));
    otok_pretok *p = olive_calloc(1, sizeof *p);
    if (!p)
        return OLIVE_ENOMEM;
    int rc = parse_body(p, j, path, type, depth);
    if (rc) {
        otok_pretok_free(p);
        return rc;
    }
    *out = p;
    return OLIVE_OK;
}

static int is_ws(uint32_t cp, const void *ctx)
{
    (void)ctx;
    return otok_is_whitespace(cp);
}

static int is_punct(uint32_t cp, const void *ctx)
{
    (void)ctx;
    return otok_is_bert_punct(cp);
}

static int is_num(uint32_t cp, const void *ctx)
{
    (void)ctx;
    return otok_is_numeric(cp);
}

static int is_char(uint32_t cp, const void *ctx)
{
    return cp == *(const uint32_t *)ctx;
}

/* Splits one piece by predicate. */
static int split_chars(otok_pieces *out, const otok_piece *p, int (*pred)(uint32_t, const void *), const void *ctx,
                       otok_behavior behavior, otok_ranges *r)
{
    r->n = 0;
    OLIVE_TRY(otok_char_ranges(r, p->s, p->len, pred, ctx));
    return otok_split(out, p, r, behavior, 0);
}

static int split_regex(otok_pieces *out, const otok_piece *p, const otok_regex *re, otok_behavior behavior, int invert,
                       otok_ranges *r)
{
    r->n = 0;
    OLIVE_TRY(otok_regex_ranges(re, p->s, p->len, r));
    return otok_split(out, p, r, behavior, invert);
}

/* ByteLevel on one piece: optional leading space, GPT-2 split, bytes to the alphabet. */
static int bytelevel(const otok_pretok *pt, const otok_piece *p, otok_pieces *out, otok_arena *arena, otok_ranges *r)
{
    otok_piece src = *p;
    if (pt->add_prefix_space && (p->len == 0 || p->s[0] != ' ')) {
        char *s = otok_arena_alloc(arena, p->len + 1);
        if (!s)
            return OLIVE_ENOMEM;
        s[0] = ' ';
        memcpy(s + 1, p->s, p->len);
        src.s = s;
        src.len = p->len + 1;
    }
    size_t first = out->n;
    if (pt->re)
        OLIVE_TRY(split_regex(out, &src, pt->re, OTOK_ISOLATED, 0, r));
    else if (src.len)
        OLIVE_TRY(otok_pieces_push(out, src));
    for (size_t i = first; i < out->n; i++) {
        otok_piece *q = &out->v[i];
        char *s = otok_arena_alloc(arena, q->len * 2 + 1);
        if (!s)
            return OLIVE_ENOMEM;
        size_t k = 0;
        for (size_t b = 0; b < q->len; b++)
            k += otok_utf8_put(otok_byte_to_char((unsigned char)q->s[b]), s + k);
        q->s = s;
        q->len = k;
    }
    return OLIVE_OK;
}

static int metaspace(const otok_pretok *pt, const otok_piece *p, otok_pieces *out, otok_arena *arena, otok_ranges *r)
{
    char rep[4];
    size_t rl = otok_utf8_put(pt->ch, rep);
    size_t spaces = 0;
    for (size_t i = 0; i < p->len; i++)
        spaces += p->s[i] == ' ';
    char *s = otok_arena_alloc(arena, p->len + spaces * (rl > 1 ? rl - 1 : 0) + rl + 1);
    if (!s)
        return OLIVE_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (p->s[i] == ' ') {
            memcpy(s + k, rep, rl);
            k += rl;
        } else {
            s[k++] = p->s[i];
        }
    }
    int starts = k >= rl && !memcmp(s, rep, rl);
    if (!starts && (pt->prepend == PREPEND_ALWAYS || (pt->prepend == PREPEND_FIRST && p->at_start))) {
        memmove(s + rl, s, k);
        memcpy(s, rep, rl);
        k += rl;
    }
    otok_piece q = {s, k, -1, p->at_start};
    if (!pt->split)
        return k ? otok_pieces_push(out, q) : OLIVE_OK;
    return split_chars(out, &q, is_char, &pt->ch, OTOK_MERGED_WITH_NEXT, r);
}

static int one(const otok_pretok *pt, const otok_piece *p, otok_pieces *out, otok_arena *arena, otok_ranges *r)
{
    switch (pt->kind) {
    case P_BYTELEVEL: return bytelevel(pt, p, out, arena, r);
    case P_SPLIT: return split_regex(out, p, pt->re, (otok_behavior)pt->behavior, pt->invert, r);
    case P_WHITESPACE: return split_regex(out, p, pt->re, OTOK_REMOVED, 1, r);
    case P_WHITESPACE_SPLIT: return split_chars(out, p, is_ws, NULL, OTOK_REMOVED, r);
    case P_BERT: {
        otok_pieces mid = {0};
        int rc = split_chars(&mid, p, is_ws, NULL, OTOK_REMOVED, r);
        for (size_t i = 0; !rc && i < mid.n; i++)
            rc = split_chars(out, &mid.v[i], is_punct, NULL, OTOK_ISOLATED, r);
        otok_pieces_free(&mid);
        return rc;
    }
    case P_METASPACE: return metaspace(pt, p, out, arena, r);
    case P_DIGITS: return split_chars(out, p, is_num, NULL, pt->individual ? OTOK_ISOLATED : OTOK_CONTIGUOUS, r);
    case P_PUNCTUATION: return split_chars(out, p, is_punct, NULL, (otok_behavior)pt->behavior, r);
    case P_CHAR_DELIMITER: return split_chars(out, p, is_char, &pt->ch, OTOK_REMOVED, r);
    case P_FIXED_LENGTH:
        /* pieces of `length` characters, the last one shorter */
        for (size_t i = 0; i < p->len;) {
            size_t start = i;
            uint32_t cp;
            for (uint64_t k = 0; k < pt->length && i < p->len; k++)
                i += otok_utf8_next(p->s, i, &cp);
            otok_piece q = {p->s + start, i - start, -1, (uint8_t)(p->at_start && start == 0)};
            OLIVE_TRY(otok_pieces_push(out, q));
        }
        return OLIVE_OK;
    case P_SEQUENCE: break;
    }
    return olive_fail(OLIVE_EINTERNAL, "unexpected pre-tokenizer");
}

int otok_pretokenize(const otok_pretok *pt, otok_pieces *pieces, otok_arena *arena)
{
    if (pt->kind == P_SEQUENCE) {
        for (size_t i = 0; i < pt->n_items; i++)
            OLIVE_TRY(otok_pretokenize(pt->items[i], pieces, arena));
        return OLIVE_OK;
    }
    otok_pieces out = {0};
    otok_ranges r = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < pieces->n && !rc; i++) {
        if (pieces->v[i].id >= 0)
            rc = otok_pieces_push(&out, pieces->v[i]);
        else
            rc = one(pt, &pieces->v[i], &out, arena, &r);
    }
    otok_ranges_free(&r);
    if (rc) {
        otok_pieces_free(&out);
        return rc;
    }
    otok_pieces_free(pieces);
    *pieces = out;
    return OLIVE_OK;
}
