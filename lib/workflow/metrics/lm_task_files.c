/* Local multiple-choice task files (lm_tasks.h): one {"context", "choices", "gold"} per line,
 * each choice scored as " " + choice after the context, as lm-eval's multiple_choice tasks
 * with the default target delimiter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "workflow/data/table.h"
#include "workflow/metrics/lm_tasks.h"

static int line_doc(wf_lm_doc *d, const char *line, const char *path, size_t lineno)
{
    json_error_t err;
    json_t *doc = json_loads(line, 0, &err);
    const json_t *choices, *gold;
    const char *context;
    size_t n;
    int rc = OLIVE_OK;
    if (!doc)
        return olive_fail(OLIVE_EFORMAT, "%s:%zu: invalid JSON: %s", path, lineno, err.text);
    context = json_string_value(json_object_get(doc, "context"));
    choices = json_object_get(doc, "choices");
    gold = json_object_get(doc, "gold");
    n = json_array_size(choices);
    if (!context || !json_is_array(choices) || !n || !json_is_integer(gold) || json_integer_value(gold) < 0 ||
        (size_t)json_integer_value(gold) >= n) {
        json_decref(doc);
        return olive_fail(OLIVE_EFORMAT,
                          "%s:%zu: expected {\"context\": text, \"choices\": [text, ...], \"gold\": index of the "
                          "right choice}",
                          path, lineno);
    }
    memset(d, 0, sizeof *d);
    if (!(d->contexts = olive_calloc(n, sizeof *d->contexts)) ||
        !(d->continuations = olive_calloc(n, sizeof *d->continuations)) ||
        !(d->choices = olive_calloc(n, sizeof *d->choices)))
        rc = OLIVE_ENOMEM;
    for (size_t c = 0; c < n && rc == OLIVE_OK; c++) {
        const char *choice = json_string_value(json_array_get(choices, c));
        if (!choice) {
            rc = olive_fail(OLIVE_EFORMAT, "%s:%zu: choice %zu is not text", path, lineno, c);
            break;
        }
        d->n++;
        d->contexts[c] = olive_strdup(context);
        d->choices[c] = olive_strdup(choice);
        d->continuations[c] = olive_asprintf(" %s", choice);
        if (!d->contexts[c] || !d->choices[c] || !d->continuations[c])
            rc = OLIVE_ENOMEM;
    }
    d->gold = (size_t)json_integer_value(gold);
    json_decref(doc);
    if (rc != OLIVE_OK)
        wf_lm_doc_clear(d);
    return rc;
}

int wf_lm_file_docs(wf_lm_doc **out, size_t *n, const char *path, long long limit)
{
    char *text = NULL, *line, *next;
    size_t size = 0, count = 0, cap = 0, lineno = 0;
    wf_lm_doc *docs = NULL;
    int rc = olive_read_file(&text, &size, path, WF_DATA_FILE_LIMIT);
    if (rc != OLIVE_OK)
        return olive_fail_context(rc, "task file '%s'", path);
    for (line = text; line && *line && rc == OLIVE_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (strspn(line, " \t\r") == strlen(line))
            continue;
        if (limit > 0 && (long long)count >= limit)
            break;
        if ((rc = olive_grow((void **)&docs, &cap, count + 1, sizeof *docs)) == OLIVE_OK &&
            (rc = line_doc(&docs[count], line, path, lineno)) == OLIVE_OK)
            count++;
    }
    free(text);
    if (rc == OLIVE_OK && !count)
        rc = olive_fail(OLIVE_EINVALID, "%s: no documents", path);
    if (rc != OLIVE_OK) {
        wf_lm_docs_free(docs, count);
        return rc;
    }
    *out = docs;
    *n = count;
    return OLIVE_OK;
}
