/* Reading local json / csv / text data files into rows, and choosing a split. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/hub/hub_datasets.h"
#include "workflow/data/table.h"

/* ---- json: JSON Lines, or one array of objects, or an object with the rows under `field` ---- */


static int parse_json(json_t **out, const char *text, size_t size, const char *path, const char *field)
{
    json_t *rows = json_array();
    size_t i = 0;
    json_error_t err;
    while (i < size && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    if (!rows)
        return OLIVE_ENOMEM;
    if (field || (i < size && text[i] == '[')) {
        json_t *doc = json_loadb(text, size, 0, &err), *arr;
        if (!doc) {
            json_decref(rows);
            return olive_fail(OLIVE_EFORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column, err.text);
        }
        arr = field ? json_object_get(doc, field) : doc;
        if (!json_is_array(arr)) {
            json_decref(doc);
            json_decref(rows);
            return olive_fail(OLIVE_EFORMAT, "%s: %s%s%s is not a list of rows", path,
                              field ? "field '" : "the document", field ? field : "", field ? "'" : "");
        }
        json_array_extend(rows, arr);
        json_decref(doc);
    } else {
        /* One object per line; blank lines are skipped. */
        size_t start = 0, line = 1;
        while (start < size) {
            const char *nl = memchr(text + start, '\n', size - start);
            size_t end = nl ? (size_t)(nl - text) : size, j = start;
            while (j < end && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r'))
                j++;
            if (j < end) {
                json_t *row = json_loadb(text + start, end - start, 0, &err);
                if (!row) {
                    json_decref(rows);
                    return olive_fail(OLIVE_EFORMAT, "%s:%zu:%d: invalid JSON line: %s", path, line, err.column,
                                      err.text);
                }
                json_array_append_new(rows, row);
            }
            start = end + 1;
            line++;
        }
    }
    for (size_t r = 0; r < json_array_size(rows); r++)
        if (!json_is_object(json_array_get(rows, r))) {
            json_decref(rows);
            return olive_fail(OLIVE_EFORMAT, "%s: row %zu is not a JSON object", path, r + 1);
        }
    *out = rows;
    return OLIVE_OK;
}

/* ---- csv: a header line, RFC 4180 quoting; numbers become numbers as pandas infers ---- */

static json_t *csv_value(const char *s, size_t n, int quoted)
{
    char *buf = olive_strndup(s, n), *end;
    json_t *v;
    if (!buf)
        return NULL;
    if (!quoted && n == 0) {
        free(buf);
        return json_null();
    }
    if (!quoted) {
        long long ll = strtoll(buf, &end, 10);
        if (*buf && !*end && buf[0] != '+') {
            free(buf);
            return json_integer(ll);
        }
        double d = strtod(buf, &end);
        if (*buf && !*end && strcasecmp(buf, "nan") && strcasecmp(buf, "inf") && strcasecmp(buf, "infinity")) {
            free(buf);
            return json_real(d);
        }
    }
    v = json_stringn(buf, strlen(buf));
    free(buf);
    return v;
}

/* Splits the next record starting at *pos into fields (each a JSON value). */
static int csv_record(json_t **fields, const char *text, size_t size, size_t *pos, size_t *line, const char *path)
{
    json_t *rec = json_array();
    olive_strbuf cell = {0};
    size_t i = *pos;
    int done = 0;
    while (!done) {
        int quoted = 0;
        cell.len = 0;
        olive_strbuf_append(&cell, "");
        if (i < size && text[i] == '"') {
            quoted = 1;
            i++;
            for (;;) {
                if (i >= size) {
                    olive_strbuf_free(&cell);
                    json_decref(rec);
                    return olive_fail(OLIVE_EFORMAT, "%s:%zu: a quoted field is not closed", path, *line);
                }
                if (text[i] == '"' && i + 1 < size && text[i + 1] == '"') {
                    olive_strbuf_appendn(&cell, "\"", 1);
                    i += 2;
                } else if (text[i] == '"') {
                    i++;
                    break;
                } else {
                    if (text[i] == '\n')
                        (*line)++;
                    olive_strbuf_appendn(&cell, text + i, 1);
                    i++;
                }
            }
        }
        while (i < size && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
            if (quoted) {
                olive_strbuf_free(&cell);
                json_decref(rec);
                return olive_fail(OLIVE_EFORMAT, "%s:%zu: text after a closing quote", path, *line);
            }
            olive_strbuf_appendn(&cell, text + i, 1);
            i++;
        }
        json_array_append_new(rec, csv_value(cell.data, cell.len, quoted));
        if (i < size && text[i] == ',') {
            i++;
            continue;
        }
        if (i < size && text[i] == '\r')
            i++;
        if (i < size && text[i] == '\n')
            i++;
        (*line)++;
        done = 1;
    }
    olive_strbuf_free(&cell);
    *pos = i;
    *fields = rec;
    return OLIVE_OK;
}

static int parse_csv(json_t **out, const char *text, size_t size, const char *path)
{
    json_t *header = NULL, *rows = json_array();
    size_t pos = 0, line = 1;
    int rc = OLIVE_OK;
    if (size >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        pos = 3;
    if (pos >= size) {
        *out = rows;
        return OLIVE_OK;
    }
    if ((rc = csv_record(&header, text, size, &pos, &line, path)) != OLIVE_OK) {
        json_decref(rows);
        return rc;
    }
    for (size_t j = 0; j < json_array_size(header); j++)
        if (!json_is_string(json_array_get(header, j))) {
            json_t *s = json_sprintf("%lld", (long long)json_integer_value(json_array_get(header, j)));
            json_array_set_new(header, j, s);
        }
    while (pos < size && rc == OLIVE_OK) {
        json_t *rec = NULL, *row;
        size_t rec_line = line;
        if (text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < size && text[pos + 1] == '\n')) {
            pos += text[pos] == '\r' ? 2 : 1; /* blank line */
            line++;
            continue;
        }
        if ((rc = csv_record(&rec, text, size, &pos, &line, path)) != OLIVE_OK)
            break;
        if (json_array_size(rec) != json_array_size(header)) {
            rc = olive_fail(OLIVE_EFORMAT, "%s:%zu: %zu fields, the header has %zu", path, rec_line,
                            json_array_size(rec), json_array_size(header));
            json_decref(rec);
            break;
        }
        row = json_object();
        for (size_t j = 0; j < json_array_size(rec); j++)
            json_object_set(row, json_string_value(json_array_get(header, j)), json_array_get(rec, j));
        json_array_append_new(rows, row);
        json_decref(rec);
    }
    json_decref(header);
    if (rc != OLIVE_OK) {
        json_decref(rows);
        return rc;
    }
    *out = rows;
    return OLIVE_OK;
}

/* ---- text: one row per line, split as Python's str.splitlines() ---- */

static size_t line_break(const char *t, size_t i, size_t size)
{
    unsigned char c = (unsigned char)t[i];
    if (c == '\r')
        return i + 1 < size && t[i + 1] == '\n' ? 2 : 1;
    if (c == '\n' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e)
        return 1;
    if (c == 0xC2 && i + 1 < size && (unsigned char)t[i + 1] == 0x85)
        return 2;
    if (c == 0xE2 && i + 2 < size && (unsigned char)t[i + 1] == 0x80 &&
        ((unsigned char)t[i + 2] == 0xA8 || (unsigned char)t[i + 2] == 0xA9))
        return 3;
    return 0;
}

static int parse_text(json_t **out, const char *text, size_t size)
{
    json_t *rows = json_array();
    size_t start = 0, i = 0;
    while (i < size) {
        size_t nb = line_break(text, i, size);
        if (!nb) {
            i++;
            continue;
        }
        json_array_append_new(rows, json_pack("{s:s%}", "text", text + start, i - start));
        i += nb;
        start = i;
    }
    if (start < size)
        json_array_append_new(rows, json_pack("{s:s%}", "text", text + start, size - start));
    *out = rows;
    return OLIVE_OK;
}

int wf_table_parse(json_t **rows, const char *format, const char *text, size_t size, const char *path)
{
    if (!strcmp(format, "json"))
        return parse_json(rows, text, size, path, NULL);
    if (!strcmp(format, "csv"))
        return parse_csv(rows, text, size, path);
    if (!strcmp(format, "text"))
        return parse_text(rows, text, size);
    return olive_fail(OLIVE_EUNSUPPORTED, "%s: data format '%s' is not supported (json, csv, text)", path, format);
}

/* ---- data_files, splits ---- */

static const char *format_of_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    if (!strcasecmp(dot, ".json") || !strcasecmp(dot, ".jsonl"))
        return "json";
    if (!strcasecmp(dot, ".csv"))
        return "csv";
    if (!strcasecmp(dot, ".txt") || !strcasecmp(dot, ".text"))
        return "text";
    return NULL;
}

/* Appends the rows of every file matching `pattern` (relative to data_dir when given). */
static int load_pattern(json_t *rows, const char *format, const char *pattern, const char *data_dir, const char *field,
                        const char *where)
{
    char *full = data_dir && pattern[0] != '/' ? olive_path_join(data_dir, pattern) : olive_strdup(pattern);
    glob_t g;
    int rc = OLIVE_OK, grc;
    if (!full)
        return OLIVE_ENOMEM;
    grc = glob(full, 0, NULL, &g);
    if (grc == GLOB_NOMATCH) {
        rc = olive_fail(OLIVE_ENOTFOUND, "%s.data_files: '%s' does not exist", where, full);
        free(full);
        return rc;
    }
    if (grc != 0) {
        rc = olive_fail(OLIVE_EIO, "%s.data_files: cannot list '%s'", where, full);
        free(full);
        return rc;
    }
    for (size_t i = 0; i < g.gl_pathc && rc == OLIVE_OK; i++) {
        char *text = NULL;
        size_t size = 0;
        json_t *part = NULL;
        struct stat st;
        const char *path = g.gl_pathv[i];
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = olive_fail(OLIVE_EINVALID,
                            "%s.data_files: '%s' is a folder; name the files (a glob such as "
                            "'%s/*.jsonl' works)",
                            where, path, path);
            break;
        }
        if ((rc = olive_read_file(&text, &size, path, WF_DATA_FILE_LIMIT)) != OLIVE_OK) {
            olive_fail_context(rc, "%s.data_files", where);
            break;
        }
        rc = !strcmp(format, "json") ? parse_json(&part, text, size, path, field)
                                     : wf_table_parse(&part, format, text, size, path);
        free(text);
        if (rc == OLIVE_OK)
            json_array_extend(rows, part);
        json_decref(part);
    }
    globfree(&g);
    free(full);
    return rc;
}

static int load_files(json_t *rows, const char *format, const json_t *files, const char *data_dir, const char *field,
                      const char *where)
{
    if (json_is_string(files))
        return load_pattern(rows, format, json_string_value(files), data_dir, field, where);
    if (!json_is_array(files) || !json_array_size(files))
        return olive_fail(OLIVE_EINVALID, "%s.data_files: expected a path, a list of paths or {split: paths}", where);
    for (size_t i = 0; i < json_array_size(files); i++) {
        if (!json_is_string(json_array_get(files, i)))
            return olive_fail(OLIVE_EINVALID, "%s.data_files[%zu]: expected a path", where, i);
        OLIVE_TRY(load_pattern(rows, format, json_string_value(json_array_get(files, i)), data_dir, field, where));
    }
    return OLIVE_OK;
}

/* "train[:10]", "train[5:]", "train[2:8]": the split's name and the slice (negatives from the end). */
static int parse_split(char *name, size_t cap, long long *lo, long long *hi, int *has_lo, int *has_hi,
                       const char *split, const char *where)
{
    const char *br = strchr(split, '[');
    size_t n = br ? (size_t)(br - split) : strlen(split);
    *has_lo = *has_hi = 0;
    if (n >= cap)
        return olive_fail(OLIVE_EINVALID, "%s.split: too long", where);
    memcpy(name, split, n);
    name[n] = '\0';
    if (br) {
        char *end;
        const char *p = br + 1;
        if (*p != ':') {
            *lo = strtoll(p, &end, 10);
            *has_lo = end != p;
            p = end;
        }
        if (*p++ != ':')
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s.split: '%s': only slices like train[:100] or train[10:20] are "
                              "supported",
                              where, split);
        if (*p != ']') {
            *hi = strtoll(p, &end, 10);
            *has_hi = end != p;
            p = end;
        }
        if (*p != ']' || p[1])
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s.split: '%s': only slices like train[:100] or train[10:20] are "
                              "supported",
                              where, split);
    }
    return OLIVE_OK;
}

static int matches_filters(const json_t *row, const json_t *filters)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)filters, key, v) if (!json_equal(json_object_get(row, key), v)) return 0;
    return 1;
}

/* How many rows from the split's first the selection needs: up to the slice's end, or fewer when
 * the caller takes only max_rows of it (and no filter drops rows); -1: all (a slice counted from
 * the end needs the split's size). */
static long long rows_needed(long long lo, long long hi, int has_lo, int has_hi, long long max_rows, int filtered)
{
    long long end = has_hi ? hi : -1, start = has_lo ? lo : 0;
    if ((has_lo && lo < 0) || (has_hi && hi < 0))
        return -1;
    if (max_rows >= 0 && !filtered) {
        long long cap = start + max_rows;
        end = end < 0 || cap < end ? cap : end;
    }
    return end;
}

/* A dataset on the Hub: the rows the selection needs, through the dataset viewer (cached). */
static int load_hub(json_t **rows, const json_t *params, const char *data_name, const char *split_name, long long need,
                    const char *where)
{
    const json_t *subset = json_object_get(params, "subset");
    ohub_rows_query q = {data_name, json_string_value(subset), split_name, need};
    if (subset && !json_is_null(subset) && !json_is_string(subset))
        return olive_fail(OLIVE_EINVALID, "%s.subset: expected the name of a config of '%s'", where, data_name);
    /* Olive hands every other key to datasets.load_dataset as an option of the dataset's builder;
     * the viewer serves the dataset as published. Options that change no row are let through. */
    static const char *const keys[] = {"type",
                                       "params",
                                       "data_name",
                                       "subset",
                                       "split",
                                       "col_filters",
                                       "data_files",
                                       "data_dir",
                                       "trust_remote_code",
                                       "streaming",
                                       "cache_dir",
                                       "token",
                                       "download_mode",
                                       "verification_mode",
                                       "keep_in_memory",
                                       "num_proc",
                                       NULL};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        const char *const *k = keys;
        while (*k && strcmp(*k, key))
            k++;
        if (!*k)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s.%s: is not supported with the Hub dataset '%s': Olive passes it to "
                              "datasets.load_dataset as an option of the dataset's builder, and libolive reads the "
                              "dataset as the Hub's dataset viewer serves it (pre-processing settings such as "
                              "input_cols belong in pre_process_data_config)",
                              where, key, data_name);
    }
    if (json_object_get(params, "data_files") || json_object_get(params, "data_dir"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: data_files / data_dir select files inside the Hub dataset '%s', which libolive does "
                          "not read (it reads the dataset's splits through the dataset viewer): drop them, or "
                          "download the files and set data_name to json, csv or text",
                          where, data_name);
    int rc = ohub_dataset_rows(rows, NULL, &q);
    return rc == OLIVE_OK ? OLIVE_OK : olive_fail_context(rc, "%s.data_name", where);
}

int wf_table_load(json_t **out, const json_t *params, long long max_rows, const char *where)
{
    const json_t *name_v = json_object_get(params, "data_name"), *files = json_object_get(params, "data_files"),
                 *split_v = json_object_get(params, "split"), *dir_v = json_object_get(params, "data_dir"),
                 *filters = json_object_get(params, "col_filters"), *field_v = json_object_get(params, "field");
    const char *data_name = json_string_value(name_v), *format = NULL, *data_dir = json_string_value(dir_v);
    const char *split = json_is_string(split_v) ? json_string_value(split_v) : "validation";
    char split_name[256];
    long long lo = 0, hi = 0;
    int has_lo, has_hi, rc;
    json_t *rows = NULL, *selected;
    struct stat st;
    if (!data_name)
        return olive_fail(OLIVE_EINVALID,
                          "%s.data_name: missing (json, csv or text with data_files naming local files, "
                          "or the name of a dataset on the Hugging Face Hub)",
                          where);
    if (!strcmp(data_name, "json") || !strcmp(data_name, "csv") || !strcmp(data_name, "text")) {
        format = data_name;
    } else if (stat(data_name, &st) == 0) {
        /* A local file or folder as the dataset's path: its files' extension gives the format. */
        if (S_ISDIR(st.st_mode) && !data_dir)
            data_dir = data_name;
        else if (!S_ISDIR(st.st_mode) && !files)
            files = name_v;
        format = format_of_path(S_ISDIR(st.st_mode) ? (json_is_string(files) ? json_string_value(files) : "")
                                                    : data_name);
        if (!format)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s.data_name: '%s': name local files by data_files with data_name "
                              "json, csv or text",
                              where, data_name);
    } else if (!strcmp(data_name, "parquet") || !strcmp(data_name, "arrow") || !strcmp(data_name, "imagefolder") ||
               !strcmp(data_name, "audiofolder")) {
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s.data_name: the '%s' format is not supported; use json, csv or text "
                          "files",
                          where, data_name);
    } else if (format_of_path(data_name) || strchr(data_name, '*')) {
        return olive_fail(OLIVE_ENOTFOUND, "%s.data_name: '%s' does not exist", where, data_name);
    } else if (!ohub_dataset_name_valid(data_name)) {
        return olive_fail(OLIVE_ENOTFOUND,
                          "%s.data_name: '%s' is neither a local file or folder nor a dataset name on the Hugging "
                          "Face Hub",
                          where, data_name);
    }
    if (filters && !json_is_object(filters))
        return olive_fail(OLIVE_EINVALID, "%s.col_filters: expected {column: value}", where);
    OLIVE_TRY(parse_split(split_name, sizeof split_name, &lo, &hi, &has_lo, &has_hi, split, where));
    if (!format) {
        OLIVE_TRY(load_hub(&rows, params, data_name, split_name,
                           rows_needed(lo, hi, has_lo, has_hi, max_rows, filters != NULL), where));
        rc = OLIVE_OK;
    } else if (!files) {
        return olive_fail(OLIVE_EINVALID, "%s.data_files: missing (the local %s files to read)", where, format);
    } else if (!(rows = json_array())) {
        return OLIVE_ENOMEM;
    } else if (json_is_object(files)) {
        const json_t *sel = json_object_get(files, split_name);
        if (!sel) {
            olive_strbuf names = {0};
            const char *k;
            json_t *v;
            olive_strbuf_append(&names, "");
            json_object_foreach((json_t *)files, k, v) olive_strbuf_printf(&names, "%s%s", names.len ? ", " : "", k);
            rc = olive_fail(OLIVE_ENOTFOUND, "%s.split: no split '%s' in data_files (it has: %s)", where, split_name,
                            names.data);
            olive_strbuf_free(&names);
            json_decref(rows);
            return rc;
        }
        rc = load_files(rows, format, sel, data_dir, json_string_value(field_v), where);
    } else if (strcmp(split_name, "train")) {
        /* A path or list of paths is the "train" split, as in the datasets library. */
        json_decref(rows);
        return olive_fail(OLIVE_ENOTFOUND,
                          "%s.split: '%s' is not in the data (data_files given as %s make the split "
                          "'train'; set split to \"train\" or give data_files as {\"%s\": ...})",
                          where, split_name, json_is_string(files) ? "a path" : "a list", split_name);
    } else {
        rc = load_files(rows, format, files, data_dir, json_string_value(field_v), where);
    }
    if (rc != OLIVE_OK) {
        json_decref(rows);
        return rc;
    }
    {
        long long n = (long long)json_array_size(rows), a = has_lo ? lo : 0, b = has_hi ? hi : n;
        if (a < 0)
            a += n;
        if (b < 0)
            b += n;
        a = a < 0 ? 0 : a > n ? n : a;
        b = b < a ? a : b > n ? n : b;
        selected = json_array();
        for (long long i = a; i < b; i++)
            if (!filters || matches_filters(json_array_get(rows, (size_t)i), filters))
                json_array_append(selected, json_array_get(rows, (size_t)i));
    }
    json_decref(rows);
    *out = selected;
    return OLIVE_OK;
}
