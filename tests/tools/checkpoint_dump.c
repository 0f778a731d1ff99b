/* checkpoint_dump PATH [--tensor NAME --out FILE [--first-row N --rows M]]
 * checkpoint_dump PATH --generated NAME --out FILE
 *
 * Opens a source checkpoint (Hugging Face folder or GGUF file) with the internal reader and
 * prints it as JSON: {kind, config, generation_config, tensors: [{name, shape, storage, dtype,
 * ggml_type, file}], copy_files, generated: [names]}. With --tensor, writes that tensor's values
 * (or rows [N, N+M) of it) as raw little-endian float32 to FILE instead; with --generated, the
 * text of that generated file (e.g. tokenizer.json rebuilt from GGUF metadata).
 * Exit 0 on success; 1 with the error on stderr; 2 on usage errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/checkpoint.h"
#include "ir/ir.h"
#include "olive/olive.h"

static json_t *describe(const ofmt_checkpoint *c)
{
    json_t *o = json_object(), *tensors = json_array(), *copy = json_array(), *gen = json_array();
    json_object_set_new(o, "kind", json_string(c->kind == OFMT_HF_FOLDER ? "hf_folder" : "gguf"));
    json_object_set(o, "config", c->config ? c->config : json_null());
    json_object_set(o, "generation_config", c->generation_config ? c->generation_config : json_null());
    for (size_t i = 0; i < c->n_tensors; i++) {
        const ofmt_tensor *t = &c->tensors[i];
        json_t *e = json_object(), *shape = json_array();
        for (size_t d = 0; d < t->rank; d++)
            json_array_append_new(shape, json_integer(t->dims[d]));
        json_object_set_new(e, "name", json_string(t->name));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "storage", json_string(t->storage == OFMT_GGML ? "ggml" : "plain"));
        json_object_set_new(e, "dtype", t->storage == OFMT_PLAIN ? json_string(oir_dtype_name(t->dtype)) : json_null());
        json_object_set_new(e, "ggml_type", t->storage == OFMT_GGML ? json_integer(t->ggml_type) : json_null());
        json_object_set_new(e, "file", t->file ? json_string(t->file) : json_null());
        json_object_set_new(e, "unpermute_heads", json_integer(t->unpermute_heads));
        json_array_append_new(tensors, e);
    }
    for (size_t i = 0; i < c->n_copy_files; i++)
        json_array_append_new(copy, json_string(c->copy_files[i]));
    for (size_t i = 0; i < c->n_generated; i++)
        json_array_append_new(gen, json_string(c->generated[i].name));
    json_object_set_new(o, "tensors", tensors);
    json_object_set_new(o, "copy_files", copy);
    json_object_set_new(o, "generated", gen);
    return o;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return *s && !*end && !errno && s[0] != '-';
}

static int write_tensor(const ofmt_checkpoint *c, const char *name, const char *out_path, int ranged,
                        uint64_t first, uint64_t rows)
{
    const ofmt_tensor *t = ofmt_checkpoint_find(c, name);
    uint64_t row_length, count;
    float *values;
    FILE *f;
    int rc;
    if (!t)
        return olive_fail(OLIVE_ENOTFOUND, "no tensor '%s' in '%s'", name, c->path);
    row_length = ofmt_tensor_row_length(t);
    if (!ranged) {
        first = 0;
        rows = row_length ? ofmt_tensor_elements(t) / row_length : 0;
    }
    if (rows && row_length > SIZE_MAX / sizeof(float) / rows)
        return olive_fail(OLIVE_EINVALID, "tensor '%s' is too large to dump", name);
    count = rows * row_length;
    if (!(values = malloc(count ? (size_t)count * sizeof *values : 1)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    rc = ofmt_tensor_read_f32(t, first, rows, values);
    if (rc == OLIVE_OK) {
        if (!(f = fopen(out_path, "wb")))
            rc = olive_fail(OLIVE_EIO, "cannot create '%s'", out_path);
        else {
            if (fwrite(values, sizeof *values, (size_t)count, f) != count)
                rc = olive_fail(OLIVE_EIO, "cannot write '%s'", out_path);
            if (fclose(f) != 0 && rc == OLIVE_OK)
                rc = olive_fail(OLIVE_EIO, "cannot write '%s'", out_path);
        }
    }
    free(values);
    return rc;
}

static int write_generated(const ofmt_checkpoint *c, const char *name, const char *out_path)
{
    for (size_t i = 0; i < c->n_generated; i++) {
        if (strcmp(c->generated[i].name, name))
            continue;
        FILE *f = fopen(out_path, "wb");
        size_t n = strlen(c->generated[i].text);
        if (!f)
            return olive_fail(OLIVE_EIO, "cannot create '%s'", out_path);
        int bad = fwrite(c->generated[i].text, 1, n, f) != n;
        if (fclose(f) != 0 || bad)
            return olive_fail(OLIVE_EIO, "cannot write '%s'", out_path);
        return OLIVE_OK;
    }
    return olive_fail(OLIVE_ENOTFOUND, "no generated file '%s' for '%s'", name, c->path);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *tensor = NULL, *out = NULL, *generated = NULL;
    uint64_t first = 0, rows = 0;
    int ranged, have_first = 0, have_rows = 0, usage_error = 0, rc;
    ofmt_checkpoint *c = NULL;
    for (int i = 1; i < argc && !usage_error; i++) {
        if (!strcmp(argv[i], "--tensor") && i + 1 < argc)
            tensor = argv[++i];
        else if (!strcmp(argv[i], "--generated") && i + 1 < argc)
            generated = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--first-row") && i + 1 < argc && parse_u64(argv[i + 1], &first))
            have_first = 1, i++;
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc && parse_u64(argv[i + 1], &rows))
            have_rows = 1, i++;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            usage_error = 1;
    }
    ranged = have_first || have_rows;
    if (usage_error || !path || (!tensor && !generated) != !out || (tensor && generated) ||
        (ranged && (!have_first || !have_rows || !tensor))) {
        fprintf(stderr, "usage: checkpoint_dump PATH [--tensor NAME --out FILE [--first-row N --rows M]]\n"
                        "       checkpoint_dump PATH --generated NAME --out FILE\n");
        return 2;
    }
    rc = ofmt_checkpoint_open(&c, path);
    if (rc == OLIVE_OK && tensor)
        rc = write_tensor(c, tensor, out, ranged, first, rows);
    if (rc == OLIVE_OK && generated)
        rc = write_generated(c, generated, out);
    if (rc == OLIVE_OK && !tensor && !generated) {
        json_t *j = describe(c);
        char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
        if (!text)
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        else
            printf("%s\n", text);
        free(text);
        json_decref(j);
    }
    ofmt_checkpoint_free(c);
    if (rc != OLIVE_OK) {
        fprintf(stderr, "checkpoint_dump: error: %s\n", olive_error_last());
        return 1;
    }
    return 0;
}
