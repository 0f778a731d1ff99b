/* Data configs against what Olive's own pre-processing made of the same files
 * (tests/data/evaluate/make_data_fixtures.py), and the errors bad data gets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "core/status.h"
#include "workflow/data/dataset.h"
#include "workflow/data/table.h"

static const char *data_dir;

static char *path_of(const char *rel)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", data_dir, rel);
    return buf[k];
}

static const olive_tensor *input(const wf_batch *b, const char *name)
{
    for (size_t i = 0; i < b->n_inputs; i++)
        if (!strcmp(b->names[i], name))
            return b->inputs[i];
    return NULL;
}

/* Row r of the expected list equals the single row of tensor t. */
static int row_equals(const olive_tensor *t, const json_t *want)
{
    const int64_t *v = olive_tensor_data(t);
    if (!t || olive_tensor_element_count(t) != json_array_size(want))
        return 0;
    for (size_t j = 0; j < json_array_size(want); j++)
        if (v[j] != json_integer_value(json_array_get(want, j)))
            return 0;
    return 1;
}

static void compare(const wf_dataset *d, const json_t *expected, const char *what)
{
    const json_t *ids = json_object_get(expected, "input_ids");
    CHECK(d->n_batches == json_array_size(ids));
    if (d->n_batches != json_array_size(ids)) {
        fprintf(stderr, "%s: %zu rows, Olive made %zu\n", what, d->n_batches, json_array_size(ids));
        return;
    }
    for (size_t r = 0; r < d->n_batches; r++) {
        const wf_batch *b = &d->batches[r];
        int ok = row_equals(input(b, "input_ids"), json_array_get(ids, r)) &&
                 row_equals(input(b, "attention_mask"), json_array_get(json_object_get(expected, "attention_mask"), r));
        const json_t *types = json_object_get(expected, "token_type_ids"),
                     *labels = json_object_get(expected, "labels");
        if (types)
            ok = ok && row_equals(input(b, "token_type_ids"), json_array_get(types, r));
        if (json_is_array(json_array_get(labels, r)))
            ok = ok && row_equals(b->labels, json_array_get(labels, r));
        else
            ok = ok && olive_tensor_element_count(b->labels) == 1 &&
                 *(int64_t *)olive_tensor_data(b->labels) == json_integer_value(json_array_get(labels, r));
        if (!ok)
            fprintf(stderr, "%s: row %zu differs from Olive's\n", what, r);
        CHECK(ok);
    }
}

static void olive_references(void)
{
    json_error_t err;
    json_t *refs = json_load_file(path_of("evaluate/data_refs.json"), 0, &err);
    const json_t *c;
    size_t i;
    CHECK(refs != NULL);
    json_array_foreach(json_object_get(refs, "classification"), i, c)
    {
        wf_dataset *d = NULL;
        json_t *pre = json_deep_copy(json_object_get(c, "params"));
        char what[64];
        json_object_set_new(pre, "model_name", json_string(path_of("evaluate/wp_tokenizer")));
        json_t *cfg = json_pack("{s:s, s:{s:O, s:s, s:s}, s:o, s:{s:i}}", "type", "HuggingfaceContainer",
                                "load_dataset_config", "data_name", json_object_get(c, "format"), "data_files", "",
                                "split", "train", "pre_process_data_config", pre, "dataloader_config", "batch_size", 1);
        char rel[256];
        snprintf(rel, sizeof rel, "evaluate/%s", json_string_value(json_object_get(c, "file")));
        json_object_set_new(json_object_get(cfg, "load_dataset_config"), "data_files", json_string(path_of(rel)));
        snprintf(what, sizeof what, "classification case %zu", i);
        CHECK_RC(wf_dataset_build(&d, cfg, "data_configs[0]"), OLIVE_OK);
        if (d)
            compare(d, json_object_get(c, "expected"), what);
        wf_dataset_free(d);
        json_decref(cfg);
    }
    json_array_foreach(json_object_get(refs, "text_generation"), i, c)
    {
        wf_dataset *d = NULL;
        json_t *pre = json_deep_copy(json_object_get(c, "params"));
        char what[64];
        json_object_set_new(pre, "model_name", json_string(path_of("convert/llama")));
        json_object_set_new(pre, "type", json_string("text_generation_huggingface_pre_process"));
        json_t *cfg = json_pack("{s:{s:s, s:s, s:s}, s:o}", "load_dataset_config", "data_name", "text", "data_files",
                                path_of("evaluate/corpus.txt"), "split", "train", "pre_process_data_config", pre);
        snprintf(what, sizeof what, "text generation case %zu", i);
        CHECK_RC(wf_dataset_build(&d, cfg, "data_configs[0]"), OLIVE_OK);
        if (d) {
            compare(d, json_object_get(c, "expected"), what);
            CHECK(d->post == WF_POST_LOGITS && d->text_generation);
        }
        wf_dataset_free(d);
        d = NULL;
        /* The same config in the "params" form, the component chosen by its task. */
        {
            json_t *params = json_deep_copy(json_object_get(cfg, "pre_process_data_config"));
            json_object_del(params, "type");
            json_object_set_new(params, "task", json_string("text-generation"));
            json_object_set_new(cfg, "pre_process_data_config", json_pack("{s:o}", "params", params));
            snprintf(what, sizeof what, "text generation case %zu (params form)", i);
            CHECK_RC(wf_dataset_build(&d, cfg, "data_configs[0]"), OLIVE_OK);
            if (d)
                compare(d, json_object_get(c, "expected"), what);
            wf_dataset_free(d);
        }
        json_decref(cfg);
    }
    json_decref(refs);
}

static int build_from(const char *json_text, wf_dataset **d)
{
    json_t *cfg = json_loads(json_text, 0, NULL);
    int rc = wf_dataset_build(d, cfg, "data_configs[0]");
    json_decref(cfg);
    return rc;
}

/* A dataset of the JSON lines file `path`, its "sentence" column through the WordPiece tokenizer. */
static int build_from_jsonl(const char *path, wf_dataset **d)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"load_dataset_config\": {\"data_name\": \"json\", \"data_files\": \"%s\", \"split\": \"train\"},"
             " \"pre_process_data_config\": {\"model_name\": \"%s\", \"input_cols\": [\"sentence\"]}}",
             path, path_of("evaluate/wp_tokenizer"));
    return build_from(cfg, d);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void bad_data(void)
{
    char dir[] = "/tmp/olive-test-data-XXXXXX", cfg[2048], p1[600], p2[600];
    wf_dataset *d = NULL;
    json_t *rows = NULL, *params;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(p1, sizeof p1, "%s/bad.jsonl", dir);
    write_file(p1, "{\"sentence\": \"a\", \"label\": 1}\n\n{\"sentence\": \"b\", \"label\": 0\n");
    CHECK_RC(build_from_jsonl(p1, &d), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("bad.jsonl:3");
    snprintf(p2, sizeof p2, "%s/nolabel.jsonl", dir);
    write_file(p2, "{\"sentence\": \"a\", \"tag\": 1}\n");
    CHECK_RC(build_from_jsonl(p2, &d), OLIVE_EINVALID);
    CHECK_ERROR_HAS("no column 'label'");
    snprintf(cfg, sizeof cfg,
             "{\"load_dataset_config\": {\"data_name\": \"json\", \"data_files\": \"%s/missing.jsonl\","
             " \"split\": \"train\"}, \"pre_process_data_config\": {\"model_name\": \"x\", "
             "\"input_cols\": [\"s\"]}}",
             dir);
    CHECK_RC(build_from(cfg, &d), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("missing.jsonl");
    /* A Hub dataset, offline with an empty cache: refused by name, nothing fetched. */
    setenv("HF_HOME", dir, 1);
    setenv("HF_DATASETS_OFFLINE", "1", 1);
    CHECK_RC(build_from("{\"load_dataset_config\": {\"data_name\": \"glue\", \"subset\": \"mrpc\"}, "
                        "\"pre_process_data_config\": {\"model_name\": \"x\", \"input_cols\": [\"s\"]}}",
                        &d),
             OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("'glue' (config 'mrpc', split 'validation')");
    CHECK_ERROR_HAS("HF_DATASETS_OFFLINE");
    /* data_files select files inside a Hub dataset, which the viewer does not serve */
    CHECK_RC(build_from("{\"load_dataset_config\": {\"data_name\": \"org/set\", \"data_files\": \"a.json\"}, "
                        "\"pre_process_data_config\": {\"model_name\": \"x\", \"input_cols\": [\"s\"]}}",
                        &d),
             OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("data_files");
    /* a missing local file is named as such, not looked up on the Hub */
    CHECK_RC(build_from("{\"load_dataset_config\": {\"data_name\": \"nowhere/rows.jsonl\"}, "
                        "\"pre_process_data_config\": {\"model_name\": \"x\", \"input_cols\": [\"s\"]}}",
                        &d),
             OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("'nowhere/rows.jsonl' does not exist");
    unsetenv("HF_DATASETS_OFFLINE");
    unsetenv("HF_HOME");
    /* The default split is Olive's "validation", which a plain path does not have. */
    params = json_pack("{s:s, s:s}", "data_name", "json", "data_files", p2);
    CHECK_RC(wf_table_load(&rows, params, -1, "load_dataset_config"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("'train'");
    json_decref(params);
    params = json_pack("{s:s, s:{s:s}, s:s}", "data_name", "json", "data_files", "validation", p2, "split",
                       "validation[:1]");
    CHECK_RC(wf_table_load(&rows, params, -1, "load_dataset_config"), OLIVE_OK);
    CHECK(json_array_size(rows) == 1);
    json_decref(rows);
    json_decref(params);
    /* csv: quoting, numbers, a short line */
    snprintf(p1, sizeof p1, "%s/t.csv", dir);
    write_file(p1, "text,label,score\n\"a, \"\"quoted\"\" text\",2,0.5\nplain,1,\n");
    params = json_pack("{s:s, s:s, s:s}", "data_name", "csv", "data_files", p1, "split", "train");
    CHECK_RC(wf_table_load(&rows, params, -1, "load_dataset_config"), OLIVE_OK);
    CHECK_STR(json_string_value(json_object_get(json_array_get(rows, 0), "text")), "a, \"quoted\" text");
    CHECK(json_integer_value(json_object_get(json_array_get(rows, 0), "label")) == 2);
    CHECK(json_is_null(json_object_get(json_array_get(rows, 1), "score")));
    json_decref(rows);
    write_file(p1, "text,label\nx,1\ny\n");
    CHECK_RC(wf_table_load(&rows, params, -1, "load_dataset_config"), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("t.csv:3");
    json_decref(params);
    /* Dummy data: max_samples batches of ones. */
    CHECK_RC(
        build_from("{\"type\": \"DummyDataContainer\", \"load_dataset_config\": {\"input_shapes\": [[1, 3], [1]],"
                   " \"input_names\": [\"x\", \"n\"], \"input_types\": [\"float16\", \"int64\"], \"max_samples\": 4}}",
                   &d),
        OLIVE_OK);
    CHECK(d && d->n_batches == 4 && d->batches[0].n_inputs == 2);
    if (d) {
        CHECK(((uint16_t *)olive_tensor_data(d->batches[0].inputs[0]))[2] == 0x3C00);
        CHECK(((int64_t *)olive_tensor_data(d->batches[3].inputs[1]))[0] == 1);
    }
    wf_dataset_free(d);
    d = NULL;
    /* Raw data: a raw file and a .npy file per input folder, annotations as labels. */
    {
        char sub[700], file[800];
        float raw[2] = {1.5f, -2.0f};
        static const char npy_hdr[] =
            "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
        char header[128 + 10];
        FILE *f;
        snprintf(sub, sizeof sub, "%s/raw/x", dir);
        snprintf(file, sizeof file, "%s/raw", dir);
        mkdir(file, 0755);
        mkdir(sub, 0755);
        snprintf(file, sizeof file, "%s/a.bin", sub);
        f = fopen(file, "wb");
        fwrite(raw, sizeof raw, 1, f);
        fclose(f);
        memset(header, ' ', sizeof header);
        memcpy(header, npy_hdr, sizeof npy_hdr - 1);
        header[10 + 0x76 - 1] = '\n';
        snprintf(file, sizeof file, "%s/b.npy", sub);
        f = fopen(file, "wb");
        fwrite(header, 10 + 0x76, 1, f);
        fwrite(raw, sizeof raw, 1, f);
        fclose(f);
        snprintf(cfg, sizeof cfg,
                 "{\"type\": \"RawDataContainer\", \"load_dataset_config\": {\"data_dir\": \"%s/raw\","
                 " \"input_names\": [\"x\"], \"input_shapes\": [[1, 2]]}}",
                 dir);
        CHECK_RC(build_from(cfg, &d), OLIVE_OK);
        CHECK(d && d->n_batches == 2);
        if (d && d->n_batches == 2) {
            CHECK(((float *)olive_tensor_data(d->batches[0].inputs[0]))[1] == -2.0f);
            CHECK(((float *)olive_tensor_data(d->batches[1].inputs[0]))[0] == 1.5f);
        }
        wf_dataset_free(d);
        d = NULL;
        snprintf(cfg, sizeof cfg,
                 "{\"type\": \"RawDataContainer\", \"load_dataset_config\": {\"data_dir\": \"%s/raw\","
                 " \"input_names\": [\"x\"], \"input_shapes\": [[1, 3]]}}",
                 dir);
        CHECK_RC(build_from(cfg, &d), OLIVE_EFORMAT);
        CHECK_ERROR_HAS("a.bin");
    }
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    data_dir = argv[1];
    olive_references();
    bad_data();
    return check_summary("unit-data");
}
