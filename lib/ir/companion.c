/* Companion files: what a model folder holds besides model.onnx (runtime configs, tokenizer
 * files), carried with the model through passes and written when it is saved. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "ir/ir.h"

static int plain_name(const char *name)
{
    return name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
           strcmp(name, "model.onnx");
}

static void companion_clear(oir_companion *c)
{
    free(c->name);
    free(c->source_path);
    olive_blob_unref(c->data);
}

/* Takes ownership of `path` and the reference in `data`. */
static int add(oir_model *m, const char *name, char *path, olive_blob *data)
{
    oir_companion *grown, c = {0};
    if (!plain_name(name)) {
        free(path);
        olive_blob_unref(data);
        return olive_fail(OLIVE_EINVALID, "companion file name '%s' must be a plain file name", name ? name : "(null)");
    }
    if (!(c.name = olive_strdup(name))) {
        free(path);
        olive_blob_unref(data);
        return OLIVE_ENOMEM;
    }
    c.source_path = path;
    c.data = data;
    for (size_t i = 0; i < m->n_companions; i++) {
        if (!strcmp(m->companions[i].name, name)) {
            companion_clear(&m->companions[i]);
            m->companions[i] = c;
            return OLIVE_OK;
        }
    }
    if (!(grown = realloc(m->companions, (m->n_companions + 1) * sizeof *grown))) {
        companion_clear(&c);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    m->companions = grown;
    m->companions[m->n_companions++] = c;
    return OLIVE_OK;
}

int oir_model_add_companion_file(oir_model *m, const char *name, const char *source_path)
{
    char *p = olive_strdup(source_path ? source_path : "");
    if (!p)
        return OLIVE_ENOMEM;
    return add(m, name, p, NULL);
}

int oir_model_add_companion_blob(oir_model *m, const char *name, olive_blob *data)
{
    return add(m, name, NULL, olive_blob_ref(data));
}

int oir_model_add_companion_text(oir_model *m, const char *name, const char *text)
{
    olive_blob *b;
    size_t n = strlen(text);
    OLIVE_TRY(olive_blob_alloc(&b, n ? n : 1));
    memcpy((void *)b->data, text, n);
    b->size = n;
    return add(m, name, NULL, b);
}

const oir_companion *oir_model_companion(const oir_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_companions; i++)
        if (!strcmp(m->companions[i].name, name))
            return &m->companions[i];
    return NULL;
}

static int write_one(const oir_companion *c, const char *dir)
{
    char *dest = olive_path_join(dir, c->name);
    int rc;
    if (!dest)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    rc = c->data ? olive_write_file(dest, c->data->data, c->data->size) : olive_copy_file(c->source_path, dest);
    free(dest);
    return rc;
}

int oir_model_write_companions(const oir_model *m, const char *dir)
{
    for (size_t i = 0; i < m->n_companions; i++)
        OLIVE_TRY(write_one(&m->companions[i], dir));
    return OLIVE_OK;
}

void oir_model_clear_companions(oir_model *m)
{
    for (size_t i = 0; i < m->n_companions; i++)
        companion_clear(&m->companions[i]);
    free(m->companions);
    m->companions = NULL;
    m->n_companions = 0;
}

int oir_model_copy_companions(oir_model *dst, const oir_model *src)
{
    if (src->checkpoint_path && !(dst->checkpoint_path = olive_strdup(src->checkpoint_path)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < src->n_companions; i++) {
        const oir_companion *c = &src->companions[i];
        OLIVE_TRY(c->data ? oir_model_add_companion_blob(dst, c->name, c->data)
                          : oir_model_add_companion_file(dst, c->name, c->source_path));
    }
    return OLIVE_OK;
}
