/* The text form of a pipeline: passes separated by "!", each followed by key=value settings. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/words.h"
#include "engine/engine.h"

static void free_passes(olive_pass **passes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        olive_pass_unref(passes[i]);
    free(passes);
}

int olive_pipeline_parse(olive_pass ***out, size_t *count, const char *text)
{
    char **words = NULL;
    size_t n_words = 0, n = 0, cap = 0, i = 0;
    olive_pass **passes = NULL;
    int rc;
    OLIVE_TRY(olive_split_words(&words, &n_words, text));
    while (i < n_words) {
        size_t start = i, end;
        olive_pass *p;
        if (!strcmp(words[i], "!")) {
            rc = olive_fail(OLIVE_EINVALID, "pipeline '%s': a pass name is missing before or after '!'", text);
            goto fail;
        }
        for (end = start + 1; end < n_words && strcmp(words[end], "!"); end++)
            ;
        if (strchr(words[start], '=')) {
            rc = olive_fail(OLIVE_EINVALID, "pipeline '%s': expected a pass name, found setting '%s'", text,
                            words[start]);
            goto fail;
        }
        if ((rc = olive_pass_instance_new_named(&p, words[start])) != OLIVE_OK)
            goto fail;
        if ((rc = olive_pass_set_pairs(p, words + start + 1, end - start - 1)) != OLIVE_OK ||
            (rc = OLIVE_PUSH(passes, n, cap, p)) != OLIVE_OK) {
            olive_pass_unref(p);
            goto fail;
        }
        i = end;
        if (i < n_words) { /* skip "!" and require a pass after it */
            i++;
            if (i == n_words) {
                rc = olive_fail(OLIVE_EINVALID, "pipeline '%s' ends with '!'", text);
                goto fail;
            }
        }
    }
    if (n == 0) {
        rc = olive_fail(OLIVE_EINVALID, "pipeline text is empty");
        goto fail;
    }
    olive_free_words(words, n_words);
    *out = passes;
    *count = n;
    return OLIVE_OK;
fail:
    olive_free_words(words, n_words);
    free_passes(passes, n);
    return rc;
}

static int needs_quotes(const char *v)
{
    return !*v || strpbrk(v, " \t\"!") != NULL;
}

char *olive_pipeline_format(olive_pass *const *passes, size_t count)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    for (size_t i = 0; i < count; i++) {
        const olive_pass_def *d = passes[i]->def;
        if (i)
            olive_strbuf_append(&b, " ! ");
        olive_strbuf_append(&b, d->name);
        for (size_t k = 0; k < d->n_params; k++) {
            const char *v = passes[i]->values[k];
            const char *def = d->params[k].default_value ? d->params[k].default_value : "";
            if (!strcmp(v, def))
                continue;
            olive_strbuf_printf(&b, " %s=", d->params[k].name);
            if (needs_quotes(v)) {
                olive_strbuf_append(&b, "\"");
                for (const char *c = v; *c; c++) {
                    if (*c == '"' || *c == '\\')
                        olive_strbuf_append(&b, "\\");
                    olive_strbuf_appendn(&b, c, 1);
                }
                olive_strbuf_append(&b, "\"");
            } else {
                olive_strbuf_append(&b, v);
            }
        }
    }
    return olive_strbuf_take(&b);
}
