/* The float16 pass's options that take more than a flag: keep_io_types as a list of names,
 * force_fp16_inputs as op types with input indices. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/float16/f16_internal.h"

int f16_parse_keep_io(f16_run *r, const char *text)
{
    static const char *const yes[] = {"true", "1", "yes", "on", NULL}, *const no[] = {"false", "0", "no",
                                                                                      "off",   "",  NULL};
    for (const char *const *w = yes; *w; w++)
        if (!strcasecmp(text, *w)) {
            r->keep_io_all = 1;
            return OLIVE_OK;
        }
    for (const char *const *w = no; *w; w++)
        if (!strcasecmp(text, *w))
            return OLIVE_OK;
    r->keep_io_list = text; /* names of inputs and outputs that stay float32 */
    return OLIVE_OK;
}

int f16_keep_io(const f16_run *r, const char *name)
{
    return r->keep_io_all || (r->keep_io_list && olive_args_list_has(r->args, "keep_io_types", name));
}

/* Accepts "Op:i,j;Op2:k" and the JSON object Olive writes, {"Op": [i, j], "Op2": [k]}: an
 * op type starts a new entry, numbers after it are its input indices. */
int f16_parse_force_inputs(f16_run *r, const char *text)
{
    const char *p = text;
    char op[128] = "";
    while (*p) {
        if (isspace((unsigned char)*p) || strchr("{}[]\":,;'", *p)) {
            p++;
        } else if (isdigit((unsigned char)*p)) {
            char *end;
            long idx = strtol(p, &end, 10);
            f16_forced *grown;
            if (!op[0] || idx > 1024)
                return olive_fail(OLIVE_EINVALID,
                                  "force_fp16_inputs='%s': expected op types with input indices, as "
                                  "Resize:2;GroupNorm:1,2",
                                  text);
            if (!(grown = realloc(r->forced, (r->n_forced + 1) * sizeof *grown)))
                return olive_fail(OLIVE_ENOMEM, "out of memory");
            r->forced = grown;
            memcpy(r->forced[r->n_forced].op, op, sizeof op);
            r->forced[r->n_forced++].index = (size_t)idx;
            p = end;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            size_t len = 0;
            while (p[len] && (isalnum((unsigned char)p[len]) || p[len] == '_' || p[len] == '.'))
                len++;
            if (len >= sizeof op)
                return olive_fail(OLIVE_EINVALID, "force_fp16_inputs: op type '%.32s...' is too long", p);
            memcpy(op, p, len);
            op[len] = '\0';
            p += len;
        } else {
            return olive_fail(OLIVE_EINVALID,
                              "force_fp16_inputs='%s': unexpected '%c'; expected op types with input indices, as "
                              "Resize:2;GroupNorm:1,2",
                              text, *p);
        }
    }
    return OLIVE_OK;
}

int f16_forced_input(const f16_run *r, const char *op, size_t index)
{
    for (size_t i = 0; i < r->n_forced; i++)
        if (r->forced[i].index == index && !strcmp(r->forced[i].op, op))
            return 1;
    return 0;
}
