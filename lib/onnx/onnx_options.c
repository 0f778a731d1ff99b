/* Save options and their text form (the options string of olive_model_save). */
#include <string.h>

#include "core/fsutil.h"
#include "core/status.h"
#include "onnx/onnx_io.h"

void onnx_save_options_init(onnx_save_options *o)
{
    memset(o, 0, sizeof *o);
    o->external = ONNX_EXTERNAL_AUTO;
    o->size_threshold = 1024;
    o->align = 4096;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (!len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int set_option(onnx_save_options *o, const char *key, size_t klen, const char *val, size_t vlen)
{
#define KEY_IS(k) (klen == sizeof(k) - 1 && !memcmp(key, k, klen))
    if (KEY_IS("external_data")) {
        if (vlen == 4 && !memcmp(val, "auto", 4))
            o->external = ONNX_EXTERNAL_AUTO;
        else if (vlen == 6 && !memcmp(val, "always", 6))
            o->external = ONNX_EXTERNAL_ALWAYS;
        else if (vlen == 5 && !memcmp(val, "never", 5))
            o->external = ONNX_EXTERNAL_NEVER;
        else
            return olive_fail(OLIVE_EINVALID, "save option external_data='%.*s' must be auto, always or never",
                              (int)vlen, val);
    } else if (KEY_IS("size_threshold")) {
        if (parse_u64(val, vlen, &o->size_threshold))
            return olive_fail(OLIVE_EINVALID, "save option size_threshold='%.*s' is not a byte count", (int)vlen, val);
    } else if (KEY_IS("align")) {
        uint64_t a;
        if (parse_u64(val, vlen, &a) || a == 0 || a > (1u << 30))
            return olive_fail(OLIVE_EINVALID, "save option align='%.*s' must be a number from 1 to 1073741824",
                              (int)vlen, val);
        o->align = a;
    } else if (KEY_IS("data_file")) {
        if (!vlen || vlen >= sizeof o->data_file_storage)
            return olive_fail(OLIVE_EINVALID, "save option data_file must be a file name of 1 to %zu bytes",
                              sizeof o->data_file_storage - 1);
        memcpy(o->data_file_storage, val, vlen);
        o->data_file_storage[vlen] = 0;
        if (olive_path_check_inside(o->data_file_storage, "save option data_file") != OLIVE_OK)
            return olive_fail(OLIVE_EINVALID,
                              "save option data_file='%s' must be a relative path inside the "
                              "model's folder",
                              o->data_file_storage);
        o->data_file = o->data_file_storage;
    } else {
        return olive_fail(OLIVE_ENOTFOUND,
                          "unknown save option '%.*s' (known: external_data, size_threshold, "
                          "align, data_file)",
                          (int)klen, key);
    }
    return OLIVE_OK;
#undef KEY_IS
}

int onnx_save_options_parse(onnx_save_options *o, const char *text)
{
    onnx_save_options tmp = *o;
    const char *p = text;
    if (!text)
        return OLIVE_OK;
    if (tmp.data_file == o->data_file_storage)
        tmp.data_file = tmp.data_file_storage;
    while (*p) {
        const char *tok, *eq;
        size_t len;
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        tok = p;
        while (*p && !is_space(*p))
            p++;
        len = (size_t)(p - tok);
        eq = memchr(tok, '=', len);
        if (!eq || eq == tok)
            return olive_fail(OLIVE_EINVALID, "save option '%.*s' is not of the form key=value", (int)len, tok);
        OLIVE_TRY(set_option(&tmp, tok, (size_t)(eq - tok), eq + 1, len - (size_t)(eq - tok) - 1));
    }
    *o = tmp;
    if (o->data_file == tmp.data_file_storage)
        o->data_file = o->data_file_storage;
    return OLIVE_OK;
}
