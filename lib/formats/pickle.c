/* A pickle reader for torch.save state dicts. Values live in an arena freed at the end, so the
 * memo may share them freely and cycles cannot leak. Every read is bounds-checked; the only
 * "calls" are the few reconstructors on the allow-list, evaluated here as data. */
#include "formats/pickle.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

enum pv_kind {
    PV_NONE,
    PV_BOOL,
    PV_INT,
    PV_FLOAT,
    PV_STR,
    PV_BYTES,
    PV_TUPLE,
    PV_LIST,
    PV_DICT,
    PV_GLOBAL,
    PV_STORAGE,
    PV_TENSOR
};

enum pv_global { G_ORDERED_DICT = 1, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_STORAGE_TYPE };

struct pv;

typedef struct pv_tensor {
    struct pv *storage;
    uint64_t storage_offset;
    size_t rank;
    int64_t dims[OFMT_MAX_RANK], strides[OFMT_MAX_RANK];
} pv_tensor;

/* One value. Kept small: a hostile stream may create one per byte. */
typedef struct pv {
    struct pv *arena_next;
    enum pv_kind kind;
    enum pv_global global; /* GLOBAL */
    int32_t dtype;         /* GLOBAL storage type, STORAGE, TENSOR */
    int64_t i;             /* INT, BOOL; STORAGE: element count */
    double f;
    char *s; /* STR, BYTES, STORAGE key: owned, NUL-terminated */
    size_t len;
    struct pv **items; /* TUPLE, LIST; DICT: key, value, key, value, ... */
    size_t n, cap;
    pv_tensor *tensor; /* TENSOR: owned */
} pv;

/* Far more values than the pickle of any real state dict holds (about 15 per tensor). */
#define PKL_MAX_VALUES ((size_t)1 << 22)

typedef struct pkl {
    const uint8_t *p;
    size_t size, pos;
    const char *file;
    pv *arena;
    size_t n_values;
    int fail_rc; /* why the last value could not be made: ENOMEM or EFORMAT */
    pv **stack;
    size_t n_stack, cap_stack;
    size_t *marks;
    size_t n_marks, cap_marks;
    pv **memo;
    size_t n_memo;   /* slots allocated (ids below it may be NULL) */
    size_t memo_len; /* ids set: MEMOIZE uses the next one */
} pkl;

static const struct {
    const char *name;
    int32_t dtype;
} storage_types[] = {
    {"DoubleStorage", OIR_DOUBLE},
    {"FloatStorage", OIR_FLOAT},
    {"HalfStorage", OIR_FLOAT16},
    {"BFloat16Storage", OIR_BFLOAT16},
    {"LongStorage", OIR_INT64},
    {"IntStorage", OIR_INT32},
    {"ShortStorage", OIR_INT16},
    {"CharStorage", OIR_INT8},
    {"ByteStorage", OIR_UINT8},
    {"BoolStorage", OIR_BOOL},
    {"Float8_e4m3fnStorage", OIR_FLOAT8E4M3FN},
    {"Float8_e5m2Storage", OIR_FLOAT8E5M2},
};

static int truncated(pkl *k)
{
    return olive_fail(OLIVE_EFORMAT, "'%s': pickle stream is truncated at byte %zu", k->file, k->pos);
}

static int bad(pkl *k, const char *what)
{
    return olive_fail(OLIVE_EFORMAT, "'%s': pickle byte %zu: %s", k->file, k->pos, what);
}

static int take(pkl *k, size_t n, const uint8_t **out)
{
    if (n > k->size - k->pos)
        return truncated(k);
    *out = k->p + k->pos;
    k->pos += n;
    return OLIVE_OK;
}

static int take_le(pkl *k, size_t n, uint64_t *out)
{
    const uint8_t *b = NULL;
    uint64_t v = 0;
    OLIVE_TRY(take(k, n, &b));
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | b[i];
    *out = v;
    return OLIVE_OK;
}

static pv *new_value(pkl *k, enum pv_kind kind)
{
    pv *v;
    if (k->n_values >= PKL_MAX_VALUES) {
        k->fail_rc = olive_fail(OLIVE_EFORMAT, "'%s': pickle holds more than %zu values", k->file, PKL_MAX_VALUES);
        return NULL;
    }
    if (!(v = olive_calloc(1, sizeof *v)))
        return NULL;
    k->n_values++;
    v->kind = kind;
    v->arena_next = k->arena;
    k->arena = v;
    return v;
}

static int push(pkl *k, pv *v)
{
    if (!v)
        return k->fail_rc;
    return OLIVE_PUSH(k->stack, k->n_stack, k->cap_stack, v);
}

static int pop(pkl *k, pv **out)
{
    size_t floor = k->n_marks ? k->marks[k->n_marks - 1] : 0;
    if (k->n_stack <= floor)
        return bad(k, "stack underflow");
    *out = k->stack[--k->n_stack];
    return OLIVE_OK;
}

static int top(pkl *k, pv **out)
{
    size_t floor = k->n_marks ? k->marks[k->n_marks - 1] : 0;
    if (k->n_stack <= floor)
        return bad(k, "stack underflow");
    *out = k->stack[k->n_stack - 1];
    return OLIVE_OK;
}

static int append_item(pv *seq, pv *item)
{
    return OLIVE_PUSH(seq->items, seq->n, seq->cap, item);
}

/* Pops everything above the last MARK into a new tuple or list, or the pairs into a dict. */
static int pop_mark_into(pkl *k, pv *into)
{
    size_t from;
    if (!into)
        return k->fail_rc;
    if (!k->n_marks)
        return bad(k, "no MARK to pop");
    from = k->marks[--k->n_marks];
    if (into->kind == PV_DICT && (k->n_stack - from) % 2)
        return bad(k, "odd number of items for a dict");
    for (size_t i = from; i < k->n_stack; i++)
        OLIVE_TRY(append_item(into, k->stack[i]));
    k->n_stack = from;
    return OLIVE_OK;
}

static pv *new_string(pkl *k, enum pv_kind kind, const uint8_t *b, size_t n)
{
    pv *v = new_value(k, kind);
    if (v && !(v->s = olive_strndup((const char *)b, n)))
        return NULL;
    if (v)
        v->len = n;
    return v;
}

/* Python decodes pickled text as UTF-8 and so do we: names end up in ONNX strings. */
static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
        if (!len || len > n - i)
            return 0;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        /* No overlong forms, surrogates or code points past U+10FFFF. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        i += len;
    }
    return 1;
}

static int push_string(pkl *k, enum pv_kind kind, size_t len_bytes)
{
    uint64_t n = 0;
    const uint8_t *b = NULL;
    OLIVE_TRY(take_le(k, len_bytes, &n));
    if (n > k->size - k->pos)
        return truncated(k);
    OLIVE_TRY(take(k, (size_t)n, &b));
    if (kind == PV_STR && !valid_utf8(b, (size_t)n))
        return bad(k, "text is not valid UTF-8");
    return push(k, new_string(k, kind, b, (size_t)n));
}

static int push_int(pkl *k, int64_t i)
{
    pv *v = new_value(k, PV_INT);
    if (v)
        v->i = i;
    return push(k, v);
}

static int push_tuple(pkl *k, size_t n)
{
    pv *t = new_value(k, PV_TUPLE);
    if (!t)
        return k->fail_rc;
    if (k->n_stack < n || k->n_stack - n < (k->n_marks ? k->marks[k->n_marks - 1] : 0))
        return bad(k, "stack underflow");
    for (size_t i = k->n_stack - n; i < k->n_stack; i++)
        OLIVE_TRY(append_item(t, k->stack[i]));
    k->n_stack -= n;
    return push(k, t);
}

/* The allow-list: anything else is refused by name. */
static int resolve_global(pkl *k, const char *module, size_t mlen, const char *name, size_t nlen)
{
    pv *g;
#define IS(s, l, lit) ((l) == sizeof(lit) - 1 && !memcmp((s), (lit), (l)))
    if (!(g = new_value(k, PV_GLOBAL)))
        return k->fail_rc;
    if (IS(module, mlen, "collections") && IS(name, nlen, "OrderedDict"))
        g->global = G_ORDERED_DICT;
    else if (IS(module, mlen, "torch._utils") && IS(name, nlen, "_rebuild_tensor_v2"))
        g->global = G_REBUILD_TENSOR_V2;
    else if (IS(module, mlen, "torch._utils") && IS(name, nlen, "_rebuild_parameter"))
        g->global = G_REBUILD_PARAMETER;
    else if (IS(module, mlen, "torch")) {
        for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
            if (strlen(storage_types[i].name) == nlen && !memcmp(name, storage_types[i].name, nlen)) {
                g->global = G_STORAGE_TYPE;
                g->dtype = storage_types[i].dtype;
            }
    }
#undef IS
    if (!g->global) {
        /* Names are printed with %.*s and only up to a sane length: the stream is untrusted. */
        int ml = mlen > 200 ? 200 : (int)mlen, nl = nlen > 200 ? 200 : (int)nlen;
        return olive_fail(OLIVE_EFORMAT,
                          "'%s': pickle global '%.*s.%.*s' is not allowed (only state dicts of tensors are read)",
                          k->file, ml, module, nl, name);
    }
    return push(k, g);
}

static int read_line(pkl *k, const char **s, size_t *len)
{
    const uint8_t *start = k->p + k->pos, *nl = memchr(start, '\n', k->size - k->pos);
    if (!nl)
        return truncated(k);
    *s = (const char *)start;
    *len = (size_t)(nl - start);
    k->pos += *len + 1;
    return OLIVE_OK;
}

static int op_global(pkl *k)
{
    const char *m = NULL, *n = NULL;
    size_t ml = 0, nl = 0;
    OLIVE_TRY(read_line(k, &m, &ml));
    OLIVE_TRY(read_line(k, &n, &nl));
    return resolve_global(k, m, ml, n, nl);
}

static int op_stack_global(pkl *k)
{
    pv *name = NULL, *module = NULL;
    OLIVE_TRY(pop(k, &name));
    OLIVE_TRY(pop(k, &module));
    if (name->kind != PV_STR || module->kind != PV_STR)
        return bad(k, "STACK_GLOBAL needs two strings");
    return resolve_global(k, module->s, module->len, name->s, name->len);
}

/* persistent_id ('storage', <storage type>, key, location, numel) names a record of the zip. */
static int op_binpersid(pkl *k)
{
    pv *pid = NULL, *st;
    OLIVE_TRY(pop(k, &pid));
    if (pid->kind != PV_TUPLE || pid->n != 5 || pid->items[0]->kind != PV_STR || strcmp(pid->items[0]->s, "storage") ||
        pid->items[1]->kind != PV_GLOBAL || pid->items[1]->global != G_STORAGE_TYPE || pid->items[2]->kind != PV_STR ||
        pid->items[4]->kind != PV_INT || pid->items[4]->i < 0)
        return bad(k, "persistent id is not ('storage', torch.<type>Storage, key, location, numel)");
    if (strlen(pid->items[2]->s) != pid->items[2]->len || !pid->items[2]->len)
        return bad(k, "storage key is empty or holds a NUL byte");
    if (!(st = new_value(k, PV_STORAGE)) || !(st->s = olive_strdup(pid->items[2]->s)))
        return k->fail_rc;
    st->dtype = pid->items[1]->dtype;
    st->i = pid->items[4]->i;
    return push(k, st);
}

static int int_tuple(pkl *k, const pv *t, int64_t *out, size_t *rank, const char *what)
{
    if (t->kind != PV_TUPLE && t->kind != PV_LIST)
        return olive_fail(OLIVE_EFORMAT, "'%s': pickle byte %zu: tensor %s is not a tuple", k->file, k->pos, what);
    if (t->n > OFMT_MAX_RANK)
        return olive_fail(OLIVE_EFORMAT, "'%s': pickle byte %zu: tensor %s has %zu entries, more than %d", k->file,
                          k->pos, what, t->n, OFMT_MAX_RANK);
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != PV_INT || t->items[i]->i < 0)
            return olive_fail(OLIVE_EFORMAT, "'%s': pickle byte %zu: tensor %s holds a non-integer or negative entry",
                              k->file, k->pos, what);
        out[i] = t->items[i]->i;
    }
    *rank = t->n;
    return OLIVE_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata]) */
static int rebuild_tensor(pkl *k, const pv *args, pv **out)
{
    pv *t;
    size_t stride_rank;
    if (args->n < 4 || args->n > 7 || args->items[0]->kind != PV_STORAGE || args->items[1]->kind != PV_INT ||
        args->items[1]->i < 0)
        return bad(k, "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)");
    if (!(t = new_value(k, PV_TENSOR)) || !(t->tensor = olive_calloc(1, sizeof *t->tensor)))
        return k->fail_rc;
    t->tensor->storage = args->items[0];
    t->dtype = args->items[0]->dtype;
    t->tensor->storage_offset = (uint64_t)args->items[1]->i;
    OLIVE_TRY(int_tuple(k, args->items[2], t->tensor->dims, &t->tensor->rank, "size"));
    OLIVE_TRY(int_tuple(k, args->items[3], t->tensor->strides, &stride_rank, "stride"));
    if (stride_rank != t->tensor->rank)
        return bad(k, "tensor size and stride differ in length");
    *out = t;
    return OLIVE_OK;
}

static int op_reduce(pkl *k)
{
    pv *args = NULL, *fn = NULL, *r = NULL;
    OLIVE_TRY(pop(k, &args));
    OLIVE_TRY(pop(k, &fn));
    if (fn->kind != PV_GLOBAL || args->kind != PV_TUPLE)
        return bad(k, "REDUCE of something other than an allowed global");
    switch (fn->global) {
    case G_ORDERED_DICT:
        if (args->n)
            return bad(k, "OrderedDict with arguments");
        if (!(r = new_value(k, PV_DICT)))
            return k->fail_rc;
        break;
    case G_REBUILD_TENSOR_V2: OLIVE_TRY(rebuild_tensor(k, args, &r)); break;
    case G_REBUILD_PARAMETER:
        if (args->n < 1 || args->n > 3 || args->items[0]->kind != PV_TENSOR)
            return bad(k, "_rebuild_parameter of something other than a tensor");
        r = args->items[0];
        break;
    default: return bad(k, "a storage type cannot be called");
    }
    return push(k, r);
}

static int memo_put(pkl *k, uint64_t id)
{
    pv *v = NULL;
    OLIVE_TRY(top(k, &v));
    /* Picklers number memo entries from 0 upwards, one per value: refuse ids beyond that. */
    if (id > k->n_values)
        return bad(k, "memo id out of range");
    if (id >= k->n_memo) {
        size_t n = (size_t)id + 1 > k->n_memo * 2 ? (size_t)id + 1 : k->n_memo * 2;
        pv **m = olive_reallocarray(k->memo, n, sizeof *m);
        if (!m)
            return k->fail_rc;
        memset(m + k->n_memo, 0, (n - k->n_memo) * sizeof *m);
        k->memo = m;
        k->n_memo = n;
    }
    if (!k->memo[id])
        k->memo_len++;
    k->memo[id] = v;
    return OLIVE_OK;
}

static int memo_get(pkl *k, uint64_t id)
{
    if (id >= k->n_memo || !k->memo[id])
        return bad(k, "memo id not defined");
    return push(k, k->memo[id]);
}

static int op_setitems(pkl *k, int many)
{
    pv *d = NULL;
    if (many) {
        size_t from;
        if (!k->n_marks)
            return bad(k, "SETITEMS without MARK");
        from = k->marks[--k->n_marks];
        if (from == 0 || (k->n_stack - from) % 2)
            return bad(k, "SETITEMS needs a dict and key/value pairs");
        d = k->stack[from - 1];
        if (d->kind != PV_DICT)
            return bad(k, "SETITEMS on something other than a dict");
        for (size_t i = from; i < k->n_stack; i++)
            OLIVE_TRY(append_item(d, k->stack[i]));
        k->n_stack = from;
        return OLIVE_OK;
    }
    {
        pv *key = NULL, *val = NULL;
        OLIVE_TRY(pop(k, &val));
        OLIVE_TRY(pop(k, &key));
        OLIVE_TRY(top(k, &d));
        if (d->kind != PV_DICT)
            return bad(k, "SETITEM on something other than a dict");
        OLIVE_TRY(append_item(d, key));
        return append_item(d, val);
    }
}

static int op_appends(pkl *k, int many)
{
    pv *l = NULL;
    if (many) {
        size_t from;
        if (!k->n_marks)
            return bad(k, "APPENDS without MARK");
        from = k->marks[--k->n_marks];
        if (from == 0 || k->stack[from - 1]->kind != PV_LIST)
            return bad(k, "APPENDS on something other than a list");
        l = k->stack[from - 1];
        for (size_t i = from; i < k->n_stack; i++)
            OLIVE_TRY(append_item(l, k->stack[i]));
        k->n_stack = from;
        return OLIVE_OK;
    }
    {
        pv *v = NULL;
        OLIVE_TRY(pop(k, &v));
        OLIVE_TRY(top(k, &l));
        if (l->kind != PV_LIST)
            return bad(k, "APPEND on something other than a list");
        return append_item(l, v);
    }
}

/* BUILD sets an object's state: torch.save uses it only for the state dict's _metadata
 * attribute, which carries nothing a converter needs. */
static int op_build(pkl *k)
{
    pv *state = NULL, *obj = NULL;
    OLIVE_TRY(pop(k, &state));
    OLIVE_TRY(top(k, &obj));
    if (obj->kind != PV_DICT && obj->kind != PV_TENSOR)
        return bad(k, "BUILD on something other than a dict or tensor");
    return OLIVE_OK;
}

static int run(pkl *k, pv **result)
{
    for (;;) {
        const uint8_t *b = NULL;
        uint64_t u = 0;
        pv *v = NULL;
        size_t at = k->pos;
        if (k->pos >= k->size)
            return truncated(k);
        switch (k->p[k->pos++]) {
        case 0x80: /* PROTO */
            OLIVE_TRY(take(k, 1, &b));
            if (b[0] < 2 || b[0] > 5)
                return olive_fail(OLIVE_EFORMAT, "'%s': pickle protocol %u is not supported", k->file, b[0]);
            break;
        case 0x95: /* FRAME: a length hint only */ OLIVE_TRY(take(k, 8, &b)); break;
        case '.': /* STOP */
            if (k->n_stack != 1 || k->n_marks)
                return bad(k, "STOP with an unbalanced stack");
            *result = k->stack[0];
            return OLIVE_OK;
        case '(': /* MARK */ OLIVE_TRY(OLIVE_PUSH(k->marks, k->n_marks, k->cap_marks, k->n_stack)); break;
        case '0': /* POP */ OLIVE_TRY(pop(k, &v)); break;
        case '1': /* POP_MARK */
            if (!k->n_marks)
                return bad(k, "POP_MARK without MARK");
            k->n_stack = k->marks[--k->n_marks];
            break;
        case '2': /* DUP */
            OLIVE_TRY(top(k, &v));
            OLIVE_TRY(push(k, v));
            break;
        case 'N': OLIVE_TRY(push(k, new_value(k, PV_NONE))); break;
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
            if ((v = new_value(k, PV_BOOL)))
                v->i = k->p[at] == 0x88;
            OLIVE_TRY(push(k, v));
            break;
        case 'J': /* BININT */
            OLIVE_TRY(take_le(k, 4, &u));
            OLIVE_TRY(push_int(k, (int64_t)(int32_t)(uint32_t)u));
            break;
        case 'K': /* BININT1 */
            OLIVE_TRY(take_le(k, 1, &u));
            OLIVE_TRY(push_int(k, (int64_t)u));
            break;
        case 'M': /* BININT2 */
            OLIVE_TRY(take_le(k, 2, &u));
            OLIVE_TRY(push_int(k, (int64_t)u));
            break;
        case 0x8a: { /* LONG1: little-endian two's complement of n bytes */
            uint64_t n = 0;
            OLIVE_TRY(take_le(k, 1, &n));
            if (n > 8)
                return bad(k, "integer wider than 64 bits");
            if (n == 0) {
                u = 0;
            } else {
                OLIVE_TRY(take_le(k, (size_t)n, &u));
                if (n < 8 && (u >> (8 * n - 1)) & 1)
                    u |= ~(uint64_t)0 << (8 * n);
            }
            OLIVE_TRY(push_int(k, (int64_t)u));
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            uint64_t bits = 0;
            OLIVE_TRY(take(k, 8, &b));
            for (int i = 0; i < 8; i++)
                bits = (bits << 8) | b[i];
            if ((v = new_value(k, PV_FLOAT)))
                memcpy(&v->f, &bits, 8);
            OLIVE_TRY(push(k, v));
            break;
        }
        case 'X': OLIVE_TRY(push_string(k, PV_STR, 4)); break;       /* BINUNICODE */
        case 0x8c: OLIVE_TRY(push_string(k, PV_STR, 1)); break;      /* SHORT_BINUNICODE */
        case 0x8d: OLIVE_TRY(push_string(k, PV_STR, 8)); break;      /* BINUNICODE8 */
        case 'T': OLIVE_TRY(push_string(k, PV_STR, 4)); break;       /* BINSTRING */
        case 'U': OLIVE_TRY(push_string(k, PV_STR, 1)); break;       /* SHORT_BINSTRING */
        case 'B': OLIVE_TRY(push_string(k, PV_BYTES, 4)); break;     /* BINBYTES */
        case 'C': OLIVE_TRY(push_string(k, PV_BYTES, 1)); break;     /* SHORT_BINBYTES */
        case ')': OLIVE_TRY(push(k, new_value(k, PV_TUPLE))); break; /* EMPTY_TUPLE */
        case ']': OLIVE_TRY(push(k, new_value(k, PV_LIST))); break;  /* EMPTY_LIST */
        case '}': OLIVE_TRY(push(k, new_value(k, PV_DICT))); break;  /* EMPTY_DICT */
        case 't':                                                    /* TUPLE */
            OLIVE_TRY(pop_mark_into(k, v = new_value(k, PV_TUPLE)));
            OLIVE_TRY(push(k, v));
            break;
        case 'l': /* LIST */
            OLIVE_TRY(pop_mark_into(k, v = new_value(k, PV_LIST)));
            OLIVE_TRY(push(k, v));
            break;
        case 'd': /* DICT */
            OLIVE_TRY(pop_mark_into(k, v = new_value(k, PV_DICT)));
            OLIVE_TRY(push(k, v));
            break;
        case 0x85: OLIVE_TRY(push_tuple(k, 1)); break;
        case 0x86: OLIVE_TRY(push_tuple(k, 2)); break;
        case 0x87: OLIVE_TRY(push_tuple(k, 3)); break;
        case 'q': /* BINPUT */
            OLIVE_TRY(take_le(k, 1, &u));
            OLIVE_TRY(memo_put(k, u));
            break;
        case 'r': /* LONG_BINPUT */
            OLIVE_TRY(take_le(k, 4, &u));
            OLIVE_TRY(memo_put(k, u));
            break;
        case 0x94: /* MEMOIZE */ OLIVE_TRY(memo_put(k, k->memo_len)); break;
        case 'h': /* BINGET */
            OLIVE_TRY(take_le(k, 1, &u));
            OLIVE_TRY(memo_get(k, u));
            break;
        case 'j': /* LONG_BINGET */
            OLIVE_TRY(take_le(k, 4, &u));
            OLIVE_TRY(memo_get(k, u));
            break;
        case 'c': OLIVE_TRY(op_global(k)); break;
        case 0x93: OLIVE_TRY(op_stack_global(k)); break;
        case 'Q': OLIVE_TRY(op_binpersid(k)); break;
        case 'R': OLIVE_TRY(op_reduce(k)); break;
        case 's': OLIVE_TRY(op_setitems(k, 0)); break;
        case 'u': OLIVE_TRY(op_setitems(k, 1)); break;
        case 'a': OLIVE_TRY(op_appends(k, 0)); break;
        case 'e': OLIVE_TRY(op_appends(k, 1)); break;
        case 'b': OLIVE_TRY(op_build(k)); break;
        default:
            k->pos = at;
            return olive_fail(OLIVE_EFORMAT, "'%s': pickle opcode 0x%02x at byte %zu is not supported", k->file,
                              k->p[at], at);
        }
    }
}

void ofmt_pickle_tensors_free(ofmt_pickle_tensor *t, size_t n)
{
    for (size_t i = 0; i < n && t; i++) {
        free(t[i].name);
        free(t[i].storage_key);
    }
    free(t);
}

static int collect(pkl *k, const pv *d, ofmt_pickle_tensor **out, size_t *n_out)
{
    size_t n = d->n / 2;
    ofmt_pickle_tensor *ts = olive_calloc(n ? n : 1, sizeof *ts);
    if (!ts)
        return k->fail_rc;
    for (size_t i = 0; i < n; i++) {
        const pv *key = d->items[2 * i], *val = d->items[2 * i + 1];
        ofmt_pickle_tensor *t = &ts[i];
        if (key->kind != PV_STR || strlen(key->s) != key->len || !key->len) {
            ofmt_pickle_tensors_free(ts, i);
            return olive_fail(OLIVE_EFORMAT, "'%s': state dict key %zu is not a non-empty string", k->file, i);
        }
        if (val->kind != PV_TENSOR) {
            ofmt_pickle_tensors_free(ts, i);
            return olive_fail(OLIVE_EFORMAT, "'%s': state dict entry '%s' is not a tensor", k->file, key->s);
        }
        if (!(t->name = olive_strdup(key->s)) || !(t->storage_key = olive_strdup(val->tensor->storage->s))) {
            ofmt_pickle_tensors_free(ts, i + 1);
            return k->fail_rc;
        }
        t->dtype = val->dtype;
        t->storage_numel = (uint64_t)val->tensor->storage->i;
        t->storage_offset = val->tensor->storage_offset;
        t->rank = val->tensor->rank;
        memcpy(t->dims, val->tensor->dims, sizeof t->dims);
        memcpy(t->strides, val->tensor->strides, sizeof t->strides);
    }
    *out = ts;
    *n_out = n;
    return OLIVE_OK;
}

int ofmt_pickle_state_dict(ofmt_pickle_tensor **out, size_t *n_out, const uint8_t *data, size_t size, const char *file)
{
    pkl k = {.p = data, .size = size, .file = file, .fail_rc = OLIVE_ENOMEM};
    pv *result = NULL;
    int rc = run(&k, &result);
    if (rc == OLIVE_OK && result->kind != PV_DICT)
        rc = olive_fail(OLIVE_EFORMAT, "'%s': the pickled object is not a state dict", file);
    if (rc == OLIVE_OK)
        rc = collect(&k, result, out, n_out);
    while (k.arena) {
        pv *next = k.arena->arena_next;
        free(k.arena->s);
        free(k.arena->items);
        free(k.arena->tensor);
        free(k.arena);
        k.arena = next;
    }
    free(k.stack);
    free(k.marks);
    free(k.memo);
    return rc;
}
