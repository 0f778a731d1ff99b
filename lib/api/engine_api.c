/* Public engine functions: a thin layer over lib/engine. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/accelerator_internal.h"
#include "api/handles.h"
#include "core/alloc.h"
#include "core/status.h"
#include "core/words.h"
#include "engine/engine.h"
#include "onnx/onnx_io.h"

int olive_engine_new(olive_engine **out, olive_accelerator *acc)
{
    olive_engine *e;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_engine_new: out must not be NULL");
    if (!(e = olive_calloc(1, sizeof *e)))
        return OLIVE_ENOMEM;
    if (acc) {
        e->acc = olive_accelerator_ref(acc);
    } else if (olive_accelerator_new(&e->acc, "cpu", NULL) != OLIVE_OK) {
        free(e);
        return olive_error_code();
    }
    e->save_options = olive_strdup("");
    e->model_name = olive_strdup("model.onnx");
    if (!e->save_options || !e->model_name) {
        olive_engine_free(e);
        return OLIVE_ENOMEM;
    }
    *out = e;
    return OLIVE_OK;
}

void olive_engine_free(olive_engine *engine)
{
    if (!engine)
        return;
    for (size_t i = 0; i < engine->n_passes; i++)
        olive_pass_unref(engine->passes[i]);
    free(engine->passes);
    olive_accelerator_free(engine->acc);
    free(engine->save_options);
    free(engine->model_name);
    free(engine);
}

int olive_engine_add_pass(olive_engine *engine, olive_pass *pass)
{
    if (!engine || !pass)
        return olive_fail(OLIVE_EINVALID, "olive_engine_add_pass: engine and pass must not be NULL");
    olive_pass *copy;
    int rc;
    /* A copy: setting the caller's pass later must not change this pipeline. */
    OLIVE_TRY(olive_pass_instance_clone(&copy, pass));
    if ((rc = OLIVE_PUSH(engine->passes, engine->n_passes, engine->cap_passes, copy)) != OLIVE_OK)
        olive_pass_unref(copy);
    return rc;
}

int olive_engine_add_pipeline(olive_engine *engine, const char *text)
{
    olive_pass **passes;
    size_t n;
    if (!engine || !text)
        return olive_fail(OLIVE_EINVALID, "olive_engine_add_pipeline: engine and text must not be NULL");
    OLIVE_TRY(olive_pipeline_parse(&passes, &n, text));
    if (olive_grow((void **)&engine->passes, &engine->cap_passes, engine->n_passes + n, sizeof *engine->passes)) {
        for (size_t i = 0; i < n; i++)
            olive_pass_unref(passes[i]);
        free(passes);
        return OLIVE_ENOMEM;
    }
    memcpy(engine->passes + engine->n_passes, passes, n * sizeof *passes);
    engine->n_passes += n;
    free(passes);
    return OLIVE_OK;
}

size_t olive_engine_pass_count(const olive_engine *engine)
{
    return engine ? engine->n_passes : 0;
}

olive_pass *olive_engine_pass_at(const olive_engine *engine, size_t index)
{
    return engine && index < engine->n_passes ? engine->passes[index] : NULL;
}

int olive_engine_pipeline_text(char **out, const olive_engine *engine)
{
    char *text;
    if (!out || !engine)
        return olive_fail(OLIVE_EINVALID, "olive_engine_pipeline_text: out and engine must not be NULL");
    if (!(text = olive_pipeline_format(engine->passes, engine->n_passes)))
        return OLIVE_ENOMEM;
    *out = text;
    return OLIVE_OK;
}

void olive_engine_set_progress(olive_engine *engine, olive_progress_fn fn, void *user)
{
    if (!engine)
        return;
    engine->progress = fn;
    engine->progress_user = user;
}

static int parse_bool_word(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) {
        *out = 1;
        return OLIVE_OK;
    }
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) {
        *out = 0;
        return OLIVE_OK;
    }
    return olive_fail(OLIVE_EINVALID, "engine option overwrite takes true or false, not '%s'", v);
}

int olive_engine_set_options(olive_engine *engine, const char *options)
{
    char **words;
    size_t n;
    int rc = OLIVE_OK, overwrite;
    olive_strbuf save = {0};
    char *model_name = NULL;
    if (!engine || !options)
        return olive_fail(OLIVE_EINVALID, "olive_engine_set_options: engine and options must not be NULL");
    OLIVE_TRY(olive_split_words(&words, &n, options));
    overwrite = engine->overwrite;
    olive_strbuf_append(&save, engine->save_options);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        char *eq = strchr(words[i], '=');
        if (!eq) {
            rc = olive_fail(OLIVE_EINVALID, "engine option '%s' is not of the form key=value", words[i]);
            break;
        }
        *eq = '\0';
        if (!strcmp(words[i], "save")) {
            onnx_save_options probe;
            onnx_save_options_init(&probe);
            rc = onnx_save_options_parse(&probe, eq + 1);
            if (rc == OLIVE_OK) {
                olive_strbuf_append(&save, " ");
                olive_strbuf_append(&save, eq + 1);
            }
        } else if (!strcmp(words[i], "overwrite")) {
            rc = parse_bool_word(eq + 1, &overwrite);
        } else if (!strcmp(words[i], "model_name")) {
            if (!eq[1] || strchr(eq + 1, '/') || !strcmp(eq + 1, ".") || !strcmp(eq + 1, ".."))
                rc = olive_fail(OLIVE_EINVALID, "engine option model_name must be a plain file name, not '%s'", eq + 1);
            else {
                free(model_name);
                rc = (model_name = olive_strdup(eq + 1)) ? OLIVE_OK : OLIVE_ENOMEM;
            }
        } else {
            rc = olive_fail(OLIVE_ENOTFOUND, "unknown engine option '%s'; valid options: save, overwrite, model_name",
                            words[i]);
        }
    }
    olive_free_words(words, n);
    if (rc == OLIVE_OK) {
        char *s = olive_strbuf_take(&save);
        if (!s) {
            free(model_name);
            return OLIVE_ENOMEM;
        }
        free(engine->save_options);
        engine->save_options = s;
        engine->overwrite = overwrite;
        if (model_name) {
            free(engine->model_name);
            engine->model_name = model_name;
        }
        return OLIVE_OK;
    }
    olive_strbuf_free(&save);
    free(model_name);
    return rc;
}

void olive_engine_cancel(olive_engine *engine)
{
    if (engine)
        atomic_store(&engine->cancelled, 1);
}

int olive_engine_run(olive_engine *engine, const olive_model *model, const char *output_dir, olive_model **out)
{
    oir_model *result = NULL;
    if (!engine || !model)
        return olive_fail(OLIVE_EINVALID, "olive_engine_run: engine and model must not be NULL");
    OLIVE_TRY(olive_engine_execute(engine, model->ir, output_dir, out ? &result : NULL));
    if (out)
        return olive_model_wrap(out, result);
    return OLIVE_OK;
}
