/* lm-eval's task definitions for the tasks LMEvaluator knows (lm_tasks.h): each row made into
 * the requests lm-eval's doc_to_text / doc_to_choice / doc_to_target build. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/data/table.h"
#include "workflow/metrics/lm_tasks.h"

void wf_lm_doc_clear(wf_lm_doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->contexts[i]);
        free(d->continuations[i]);
        free(d->choices[i]);
    }
    free(d->contexts);
    free(d->continuations);
    free(d->choices);
    memset(d, 0, sizeof *d);
}

void wf_lm_docs_free(wf_lm_doc *docs, size_t n)
{
    for (size_t i = 0; docs && i < n; i++)
        wf_lm_doc_clear(&docs[i]);
    free(docs);
}

static int doc_alloc(wf_lm_doc *d, size_t n)
{
    memset(d, 0, sizeof *d);
    d->contexts = olive_calloc(n + 1, sizeof *d->contexts);
    d->continuations = olive_calloc(n + 1, sizeof *d->continuations);
    d->choices = olive_calloc(n + 1, sizeof *d->choices);
    if (!d->contexts || !d->continuations || !d->choices) {
        wf_lm_doc_clear(d);
        return OLIVE_ENOMEM;
    }
    d->n = n;
    return OLIVE_OK;
}

/* Request i: (context, delimiter + continuation); `choice` the text acc_norm measures. */
static int doc_set(wf_lm_doc *d, size_t i, const char *context, const char *delimiter, const char *continuation,
                   const char *choice)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, delimiter);
    olive_strbuf_append(&b, continuation);
    d->continuations[i] = olive_strbuf_take(&b);
    d->contexts[i] = olive_strdup(context);
    d->choices[i] = olive_strdup(choice);
    return d->continuations[i] && d->contexts[i] && d->choices[i] ? OLIVE_OK : OLIVE_ENOMEM;
}

static const char *field(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

static int missing(const char *where, const char *what)
{
    return olive_fail(OLIVE_EFORMAT, "%s: the row has no %s", where, what);
}

/* A label written as an integer or as its digits ("3"). */
static int label_index(size_t *out, const json_t *v, size_t n_choices, const char *where, const char *key)
{
    long long x = -1;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (json_is_string(v) && json_string_length(v) &&
             strspn(json_string_value(v), "0123456789") == json_string_length(v))
        x = strtoll(json_string_value(v), NULL, 10);
    if (x < 0 || (size_t)x >= n_choices)
        return olive_fail(OLIVE_EFORMAT, "%s: '%s' is not the index of one of its %zu choices", where, key, n_choices);
    *out = (size_t)x;
    return OLIVE_OK;
}

/* Python's str.strip() / lstrip() over ASCII whitespace. */
static const char *const SPACE = " \t\n\r\v\f\x1c\x1d\x1e\x1f";

static char *strip_copy(const char *s, size_t len, int right)
{
    while (len && strchr(SPACE, *s))
        s++, len--;
    while (right && len && strchr(SPACE, s[len - 1]))
        len--;
    return olive_strndup(s, len);
}

/* Choices {"text": [...], "label": [...]} with the gold one named by answerKey (ARC,
 * OpenBookQA). */
static int lettered_choices(wf_lm_doc *d, const json_t *row, const char *context, int lstrip_key, const char *where)
{
    const json_t *choices = json_object_get(row, "choices"), *text = json_object_get(choices, "text"),
                 *labels = json_object_get(choices, "label");
    const char *key = field(row, "answerKey");
    char *k;
    size_t n = json_array_size(text);
    int rc;
    if (!json_is_array(text) || !n || !json_is_array(labels) || json_array_size(labels) != n)
        return missing(where, "choices {\"text\": [...], \"label\": [...]}");
    if (!key)
        return missing(where, "answerKey");
    if (!(k = lstrip_key ? strip_copy(key, strlen(key), 0) : olive_strdup(key)))
        return OLIVE_ENOMEM;
    if ((rc = doc_alloc(d, n)) != OLIVE_OK) {
        free(k);
        return rc;
    }
    d->gold = n;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        const char *c = json_string_value(json_array_get(text, i)), *l = json_string_value(json_array_get(labels, i));
        if (!c || !l)
            rc = missing(where, "text choices and labels");
        else
            rc = doc_set(d, i, context, " ", c, c);
        if (rc == OLIVE_OK && d->gold == n && !strcmp(l, k))
            d->gold = i;
    }
    if (rc == OLIVE_OK && d->gold == n)
        rc = olive_fail(OLIVE_EFORMAT, "%s: answerKey '%s' is not one of the choices' labels", where, k);
    free(k);
    if (rc != OLIVE_OK)
        wf_lm_doc_clear(d);
    return rc;
}

static int arc_doc(wf_lm_doc *d, const json_t *row, const char *where)
{
    const char *q = field(row, "question");
    olive_strbuf b = {0};
    char *ctx;
    int rc;
    if (!q)
        return missing(where, "question");
    olive_strbuf_printf(&b, "Question: %s\nAnswer:", q);
    if (!(ctx = olive_strbuf_take(&b)))
        return OLIVE_ENOMEM;
    rc = lettered_choices(d, row, ctx, 0, where);
    free(ctx);
    return rc;
}

static int openbookqa_doc(wf_lm_doc *d, const json_t *row, const char *where)
{
    const char *q = field(row, "question_stem");
    if (!q)
        return missing(where, "question_stem");
    return lettered_choices(d, row, q, 1, where);
}

/* Two or more fixed requests (context, " " + choice) and an integer label. */
static int fixed_choices(wf_lm_doc *d, const json_t *row, const char *context, const char *const *choices, size_t n,
                         const char *label_key, const char *where)
{
    int rc = doc_alloc(d, n);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
        rc = doc_set(d, i, context, " ", choices[i], choices[i]);
    if (rc == OLIVE_OK)
        rc = label_index(&d->gold, json_object_get(row, label_key), n, where, label_key);
    if (rc != OLIVE_OK)
        wf_lm_doc_clear(d);
    return rc;
}

static int piqa_doc(wf_lm_doc *d, const json_t *row, const char *where)
{
    const char *goal = field(row, "goal"), *c[2] = {field(row, "sol1"), field(row, "sol2")};
    olive_strbuf b = {0};
    char *ctx;
    int rc;
    if (!goal || !c[0] || !c[1])
        return missing(where, "goal, sol1 and sol2");
    olive_strbuf_printf(&b, "Question: %s\nAnswer:", goal);
    if (!(ctx = olive_strbuf_take(&b)))
        return OLIVE_ENOMEM;
    rc = fixed_choices(d, row, ctx, c, 2, "label", where);
    free(ctx);
    return rc;
}

static int boolq_doc(wf_lm_doc *d, const json_t *row, const char *where)
{
    static const char *const c[2] = {"no", "yes"};
    const char *passage = field(row, "passage"), *q = field(row, "question");
    olive_strbuf b = {0};
    char *ctx;
    int rc;
    if (!passage || !q)
        return missing(where, "passage and question");
    olive_strbuf_printf(&b, "%s\nQuestion: %s?\nAnswer:", passage, q);
    if (!(ctx = olive_strbuf_take(&b)))
        return OLIVE_ENOMEM;
    rc = fixed_choices(d, row, ctx, c, 2, "label", where);
    free(ctx);
    return rc;
}

/* HellaSwag's clean-up of WikiHow artifacts: strip, " [title]" to ". ", bracketed spans
 * removed, then double spaces made single (one pass, as str.replace). */
static char *hellaswag_clean(const char *text)
{
    char *s = strip_copy(text, strlen(text), 1), *out;
    olive_strbuf a = {0}, b = {0};
    if (!s)
        return NULL;
    for (const char *p = s; *p;) {
        if (!strncmp(p, " [title]", 8)) {
            olive_strbuf_append(&a, ". ");
            p += 8;
        } else {
            olive_strbuf_appendn(&a, p++, 1);
        }
    }
    free(s);
    if (!(s = olive_strbuf_take(&a)))
        return NULL;
    /* re.sub(r"\[.*?\]", "") : '.' does not cross a newline */
    for (const char *p = s; *p;) {
        const char *close = *p == '[' ? strpbrk(p + 1, "]\n") : NULL;
        if (close && *close == ']') {
            p = close + 1;
        } else {
            olive_strbuf_appendn(&b, p++, 1);
        }
    }
    free(s);
    if (!(s = olive_strbuf_take(&b)))
        return NULL;
    for (const char *p = s; *p;) {
        if (p[0] == ' ' && p[1] == ' ') {
            olive_strbuf_appendn(&a, " ", 1);
            p += 2;
        } else {
            olive_strbuf_appendn(&a, p++, 1);
        }
    }
    free(s);
    out = olive_strbuf_take(&a);
    return out ? out : olive_strdup("");
}

static int hellaswag_doc(wf_lm_doc *d, const json_t *row, const char *where)
{
    const char *label = field(row, "activity_label"), *a = field(row, "ctx_a"), *b = field(row, "ctx_b");
    const json_t *endings = json_object_get(row, "endings");
    size_t n = json_array_size(endings);
    olive_strbuf q = {0};
    char *query, *ctx_b;
    int rc;
    if (!label || !a || !b || !json_is_array(endings) || !n)
        return missing(where, "activity_label, ctx_a, ctx_b and endings");
    /* ctx_a + " " + ctx_b.capitalize(): the first letter upper case, the rest lower case */
    if (!(ctx_b = olive_strdup(b)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; ctx_b[i]; i++)
        ctx_b[i] = (char)(i ? tolower((unsigned char)ctx_b[i]) : toupper((unsigned char)ctx_b[i]));
    olive_strbuf_printf(&q, "%s: %s %s", label, a, ctx_b);
    free(ctx_b);
    if (!(ctx_b = olive_strbuf_take(&q)))
        return OLIVE_ENOMEM;
    query = hellaswag_clean(ctx_b);
    free(ctx_b);
    if (!query)
        return OLIVE_ENOMEM;
    rc = doc_alloc(d, n);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        const char *e = json_string_value(json_array_get(endings, i));
        char *c = e ? hellaswag_clean(e) : NULL;
        rc = !e ? missing(where, "text endings") : !c ? OLIVE_ENOMEM : doc_set(d, i, query, " ", c, c);
        free(c);
    }
    free(query);
    if (rc == OLIVE_OK)
        rc = label_index(&d->gold, json_object_get(row, "label"), n, where, "label");
    if (rc != OLIVE_OK)
        wf_lm_doc_clear(d);
    return rc;
}

/* The choices are the sentence up to "_" with each option; the continuation is the rest. */
static int winogrande_doc(wf_lm_doc *d, const json_t *row, const char *where)
{
    const char *s = field(row, "sentence"), *opt[2] = {field(row, "option1"), field(row, "option2")},
               *answer = field(row, "answer"), *blank;
    char *target;
    int rc;
    if (!s || !opt[0] || !opt[1] || !answer)
        return missing(where, "sentence, option1, option2 and answer");
    if (!(blank = strchr(s, '_')))
        return olive_fail(OLIVE_EFORMAT, "%s: the sentence has no '_' to fill", where);
    if (strcmp(answer, "1") && strcmp(answer, "2"))
        return olive_fail(OLIVE_EFORMAT, "%s: answer '%s' is not \"1\" or \"2\"", where, answer);
    if (!(target = strip_copy(blank + 1, strlen(blank + 1), 1)))
        return OLIVE_ENOMEM;
    rc = doc_alloc(d, 2);
    for (size_t i = 0; i < 2 && rc == OLIVE_OK; i++) {
        olive_strbuf b = {0};
        char *ctx;
        olive_strbuf_appendn(&b, s, (size_t)(blank - s));
        olive_strbuf_append(&b, opt[i]);
        if (!(ctx = olive_strbuf_take(&b)))
            rc = OLIVE_ENOMEM;
        else
            rc = doc_set(d, i, ctx, " ", target, ctx);
        free(ctx);
    }
    free(target);
    d->gold = answer[0] == '2';
    if (rc != OLIVE_OK)
        wf_lm_doc_clear(d);
    return rc;
}

/* The text but its last word (split on single spaces) predicting " " + that word. */
static int lambada_doc(wf_lm_doc *d, const json_t *row, const char *where)
{
    const char *text = field(row, "text"), *sp;
    char *ctx;
    int rc;
    if (!text)
        return missing(where, "text");
    sp = strrchr(text, ' ');
    if (!(ctx = olive_strndup(text, sp ? (size_t)(sp - text) : 0)))
        return OLIVE_ENOMEM;
    if ((rc = doc_alloc(d, 1)) == OLIVE_OK)
        rc = doc_set(d, 0, ctx, " ", sp ? sp + 1 : text, sp ? sp + 1 : text);
    free(ctx);
    if (rc != OLIVE_OK)
        wf_lm_doc_clear(d);
    return rc;
}

static const wf_lm_task TASKS[] = {
    {"arc_easy", "allenai/ai2_arc", "ARC-Easy", "test", WF_LM_MULTIPLE_CHOICE, 1, arc_doc},
    {"arc_challenge", "allenai/ai2_arc", "ARC-Challenge", "test", WF_LM_MULTIPLE_CHOICE, 1, arc_doc},
    {"hellaswag", "Rowan/hellaswag", "default", "validation", WF_LM_MULTIPLE_CHOICE, 1, hellaswag_doc},
    {"piqa", "baber/piqa", "default", "validation", WF_LM_MULTIPLE_CHOICE, 1, piqa_doc},
    {"boolq", "aps/super_glue", "boolq", "validation", WF_LM_MULTIPLE_CHOICE, 0, boolq_doc},
    {"winogrande", "allenai/winogrande", "winogrande_xl", "validation", WF_LM_MULTIPLE_CHOICE, 0, winogrande_doc},
    {"openbookqa", "allenai/openbookqa", "main", "test", WF_LM_MULTIPLE_CHOICE, 1, openbookqa_doc},
    {"lambada_openai", "EleutherAI/lambada_openai", "default", "test", WF_LM_LOGLIKELIHOOD, 0, lambada_doc},
};

const wf_lm_task *wf_lm_task_find(const char *name)
{
    for (size_t i = 0; i < sizeof TASKS / sizeof TASKS[0]; i++)
        if (!strcmp(TASKS[i].name, name))
            return &TASKS[i];
    return NULL;
}

const char *wf_lm_task_names(void)
{
    return "arc_easy, arc_challenge, hellaswag, piqa, boolq, winogrande, openbookqa, lambada_openai";
}

int wf_lm_task_doc(wf_lm_doc *out, const wf_lm_task *t, const json_t *row, const char *where)
{
    if (!json_is_object(row))
        return olive_fail(OLIVE_EFORMAT, "%s: expected an object", where);
    return t->make_doc(out, row, where);
}

int wf_lm_task_docs(wf_lm_doc **out, size_t *n, const wf_lm_task *t, long long limit, const char *where)
{
    json_t *params = json_pack("{s:s, s:s}", "data_name", t->dataset, "split", t->split), *rows = NULL;
    wf_lm_doc *docs;
    size_t count;
    int rc;
    if (!params)
        return OLIVE_ENOMEM;
    if (t->config)
        json_object_set_new(params, "subset", json_string(t->config));
    rc = wf_table_load(&rows, params, limit > 0 ? limit : -1, where);
    json_decref(params);
    if (rc != OLIVE_OK)
        return rc;
    count = json_array_size(rows);
    if (limit > 0 && (size_t)limit < count)
        count = (size_t)limit;
    if (!count) {
        json_decref(rows);
        return olive_fail(OLIVE_EINVALID, "%s: task '%s' has no documents in %s split '%s'", where, t->name, t->dataset,
                          t->split);
    }
    if (!(docs = olive_calloc(count, sizeof *docs))) {
        json_decref(rows);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        char w[400];
        snprintf(w, sizeof w, "%s: task '%s': %s split '%s' row %zu", where, t->name, t->dataset, t->split, i);
        if ((rc = wf_lm_task_doc(&docs[i], t, json_array_get(rows, i), w)) != OLIVE_OK) {
            wf_lm_docs_free(docs, i);
            json_decref(rows);
            return rc;
        }
    }
    json_decref(rows);
    *out = docs;
    *n = count;
    return OLIVE_OK;
}
