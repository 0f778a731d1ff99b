/* Dataset rows from the Hub's dataset viewer API, kept in a verified cache (hub_datasets.h). */
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "olive/common.h"

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/status.h"
#include "formats/hub/hub_datasets.h"
#include "formats/hub/hub_http.h"

#define PAGE_ROWS 100 /* the most rows the viewer gives a request */
#define CACHE_FILE_LIMIT ((size_t)1 << 31)
#define DEFAULT_ENDPOINT "https://datasets-server.huggingface.co"

static int plain_segment(const char *s, size_t n)
{
    if (n == 0 || n > 96 || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
            return 0;
    return !memmem(s, n, "..", 2);
}

int ohub_dataset_name_valid(const char *name)
{
    const char *slash = strchr(name, '/');
    if (!slash)
        return plain_segment(name, strlen(name));
    return plain_segment(name, (size_t)(slash - name)) && plain_segment(slash + 1, strlen(slash + 1));
}

/* A config or split name: printable, short. */
static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 256)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* ---- the cache ---- */

/* A name as one path component: letters, digits, '-', '_' and inner '.' kept, others %XX. */
static void append_component(olive_strbuf *b, const char *s)
{
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0))
            olive_strbuf_appendn(b, s + i, 1);
        else
            olive_strbuf_printf(b, "%%%02X", c);
    }
}

static char *cache_root(void)
{
    const char *v;
    if ((v = getenv("HF_DATASETS_CACHE")) && v[0])
        return olive_path_join(v, "libolive-rows");
    if ((v = getenv("HF_HOME")) && v[0])
        return olive_asprintf("%s/datasets/libolive-rows", v);
    if ((v = getenv("HOME")) && v[0])
        return olive_asprintf("%s/.cache/huggingface/datasets/libolive-rows", v);
    return NULL;
}

/* <root>/<org>--<name>, and with config and split, <...>/<config>/<split>.json. */
static char *cache_path(const char *root, const char *dataset, const char *config, const char *split)
{
    olive_strbuf b = {0};
    const char *slash = strchr(dataset, '/');
    olive_strbuf_printf(&b, "%s/", root);
    if (slash)
        olive_strbuf_printf(&b, "%.*s--%s", (int)(slash - dataset), dataset, slash + 1);
    else
        olive_strbuf_append(&b, dataset);
    if (config) {
        olive_strbuf_append(&b, "/");
        append_component(&b, config);
        olive_strbuf_append(&b, "/");
        append_component(&b, split);
        olive_strbuf_append(&b, ".json");
    }
    return olive_strbuf_take(&b);
}

static int is_row_list(const json_t *rows)
{
    if (!json_is_array(rows))
        return 0;
    for (size_t i = 0; i < json_array_size(rows); i++)
        if (!json_is_object(json_array_get(rows, i)))
            return 0;
    return 1;
}

/* The cached document {dataset, config, split, num_rows_total, features, rows} when it is there
 * and matches its sha256 and the query; NULL otherwise (a file that does not match is a warning,
 * and is replaced by the next fetch). Sets no error. */
static json_t *cache_read(const char *path, const char *dataset, const char *config, const char *split)
{
    char *text = NULL, *sha = NULL, *sha_path = olive_asprintf("%s.sha256", path), hex[OLIVE_SHA256_HEX];
    size_t size = 0, sha_size = 0;
    json_t *doc = NULL;
    struct stat st;
    const char *why = NULL;
    if (!sha_path || stat(path, &st) != 0) {
        free(sha_path);
        return NULL;
    }
    if (olive_read_file(&text, &size, path, CACHE_FILE_LIMIT) != OLIVE_OK)
        why = "cannot be read";
    else if (olive_read_file(&sha, &sha_size, sha_path, 256) != OLIVE_OK)
        why = "has no readable .sha256 beside it";
    if (!why) {
        sha[strcspn(sha, " \t\r\n")] = '\0';
        olive_sha256_hex(text, size, hex);
        if (strcmp(sha, hex))
            why = "does not match its sha256";
    }
    if (!why && !(doc = json_loadb(text, size, 0, NULL)))
        why = "is not valid JSON";
    if (!why) {
        const json_t *total = json_object_get(doc, "num_rows_total"), *rows = json_object_get(doc, "rows");
        if (!json_is_string(json_object_get(doc, "dataset")) ||
            strcmp(json_string_value(json_object_get(doc, "dataset")), dataset) ||
            !json_is_string(json_object_get(doc, "config")) ||
            strcmp(json_string_value(json_object_get(doc, "config")), config) ||
            !json_is_string(json_object_get(doc, "split")) ||
            strcmp(json_string_value(json_object_get(doc, "split")), split) || !json_is_integer(total) ||
            json_integer_value(total) < 0 || !is_row_list(rows) ||
            (long long)json_array_size(rows) > json_integer_value(total))
            why = "does not hold the rows of this split";
    }
    if (why) {
        OLIVE_WARN("cached rows %s %s: fetched again", path, why);
        json_decref(doc);
        doc = NULL;
    }
    olive_error_clear();
    free(text);
    free(sha);
    free(sha_path);
    return doc;
}

#ifdef OHUB_HAVE_CURL
/* Writes the document and its sha256 (the .sha256 first: a stop between the two leaves a pair
 * that does not match, which is fetched again, never a file served unverified). */
static void cache_write(const char *path, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT), *dir = olive_path_dirname(path);
    char *sha_path = olive_asprintf("%s.sha256", path), hex[OLIVE_SHA256_HEX + 1];
    int rc = text && dir && sha_path ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = olive_mkdir_p(dir);
    if (rc == OLIVE_OK) {
        size_t n = strlen(text);
        olive_sha256_hex(text, n, hex);
        hex[OLIVE_SHA256_HEX - 1] = '\n';
        hex[OLIVE_SHA256_HEX] = '\0';
        rc = olive_write_file(sha_path, hex, OLIVE_SHA256_HEX);
        if (rc == OLIVE_OK)
            rc = olive_write_file(path, text, n);
    }
    if (rc != OLIVE_OK)
        OLIVE_WARN("the fetched rows are not kept in the cache (%s): %s", path, olive_error_last());
    olive_error_clear();
    free(text);
    free(dir);
    free(sha_path);
}
#endif

/* The only config cached for `dataset` (offline, no subset named), or NULL. Caller frees. */
static char *only_cached_config(const char *root, const char *dataset)
{
    char *dir = cache_path(root, dataset, NULL, NULL), *found = NULL;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    int count = 0;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            count++;
            free(found);
            found = olive_strdup(e->d_name);
        }
    if (d)
        closedir(d);
    free(dir);
    if (count != 1 || !found || strchr(found, '%')) {
        free(found);
        return NULL;
    }
    return found;
}

/* The first min(need, cached) rows of the document. */
static int serve(json_t **rows, long long *total, const json_t *doc, long long need)
{
    const json_t *all = json_object_get(doc, "rows");
    size_t n = json_array_size(all);
    json_t *out = json_array();
    if (!out)
        return OLIVE_ENOMEM;
    if (need >= 0 && (size_t)need < n)
        n = (size_t)need;
    for (size_t i = 0; i < n; i++)
        json_array_append(out, json_array_get(all, i));
    *rows = out;
    if (total)
        *total = json_integer_value(json_object_get(doc, "num_rows_total"));
    return OLIVE_OK;
}

static int satisfied(const json_t *doc, long long need)
{
    long long have = (long long)json_array_size(json_object_get(doc, "rows"));
    long long total = json_integer_value(json_object_get(doc, "num_rows_total")); /* -1: not known yet */
    return total >= 0 && (have >= total || (need >= 0 && have >= need));
}

#ifdef OHUB_HAVE_CURL

#define REPLY_LIMIT (64u << 20)

typedef struct viewer {
    const char *dataset;
    char *endpoint, *host, *token;
    struct curl_slist *headers;
    CURL *easy;
} viewer;

static void viewer_close(viewer *v)
{
    if (v->easy) /* else libcurl may not be loaded; nothing of it was made */
        curl_slist_free_all(v->headers);
    if (v->easy)
        curl_easy_cleanup(v->easy);
    free(v->endpoint);
    free(v->host);
    free(v->token);
}

static int viewer_open(viewer *v, const char *dataset)
{
    const char *ep = getenv("HF_DATASETS_SERVER_ENDPOINT");
    memset(v, 0, sizeof *v);
    v->dataset = dataset;
    OLIVE_TRY(ohub_curl_start());
    if (!(v->endpoint = olive_strdup(ep && ep[0] ? ep : DEFAULT_ENDPOINT)))
        return OLIVE_ENOMEM;
    for (size_t n = strlen(v->endpoint); n && v->endpoint[n - 1] == '/'; n--)
        v->endpoint[n - 1] = '\0';
    v->host = ohub_endpoint_host(v->endpoint);
    v->token = ohub_read_token();
    if (!v->host || !(v->easy = curl_easy_init()))
        return OLIVE_ENOMEM;
    if (v->token) {
        char *auth = olive_asprintf("Authorization: Bearer %s", v->token);
        if (!auth)
            return OLIVE_ENOMEM;
        v->headers = curl_slist_append(v->headers, auth);
        free(auth);
    }
    v->headers = curl_slist_append(v->headers, "Accept: application/json");
    return v->headers ? OLIVE_OK : OLIVE_ENOMEM;
}

/* {endpoint}/{api}?dataset=..&config=..&split=..&offset=..&length=.. (the parts given). */
static char *api_url(viewer *v, const char *api, const char *config, const char *split, long long offset,
                     long long length)
{
    const char *keys[3] = {"dataset", "config", "split"}, *values[3] = {v->dataset, config, split};
    olive_strbuf b = {0};
    olive_strbuf_printf(&b, "%s/%s", v->endpoint, api);
    for (int i = 0; i < 3; i++) {
        char *e;
        if (!values[i])
            continue;
        if (!(e = curl_easy_escape(v->easy, values[i], 0))) {
            olive_strbuf_free(&b);
            return NULL;
        }
        olive_strbuf_printf(&b, "%c%s=%s", i ? '&' : '?', keys[i], e);
        curl_free(e);
    }
    if (length > 0)
        olive_strbuf_printf(&b, "&offset=%lld&length=%lld", offset, length);
    return olive_strbuf_take(&b);
}

static int get(viewer *v, ohub_reply *r, const char *url)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode cc;
    curl_easy_reset(v->easy);
    ohub_base_options(v->easy, errbuf);
    curl_easy_setopt(v->easy, CURLOPT_URL, url);
    curl_easy_setopt(v->easy, CURLOPT_HTTPHEADER, v->headers);
    curl_easy_setopt(v->easy, CURLOPT_HEADERFUNCTION, ohub_on_header);
    curl_easy_setopt(v->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(v->easy, CURLOPT_WRITEFUNCTION, ohub_on_body);
    curl_easy_setopt(v->easy, CURLOPT_WRITEDATA, r);
    r->body_limit = REPLY_LIMIT;
    if ((cc = curl_easy_perform(v->easy)) != CURLE_OK)
        return olive_fail(OLIVE_EIO,
                          "cannot reach %s for dataset '%s': %s (the dataset viewer at %s; "
                          "HF_DATASETS_SERVER_ENDPOINT names another; HF_DATASETS_OFFLINE=1 uses only rows fetched "
                          "before)",
                          v->host, v->dataset, errbuf[0] ? errbuf : curl_easy_strerror(cc), v->endpoint);
    curl_easy_getinfo(v->easy, CURLINFO_RESPONSE_CODE, &r->status);
    return OLIVE_OK;
}

/* The server's explanation: the body's "error", else X-Error-Message, else "". Caller frees. */
static char *reply_error(const ohub_reply *r)
{
    json_t *doc = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(doc, "error"));
    char *out = olive_strdup(e ? e : r->error_message ? r->error_message : "");
    json_decref(doc);
    return out;
}

static int refused(const viewer *v, const ohub_reply *r, const char *msg)
{
    return olive_fail(OLIVE_EINVALID, "access to dataset '%s' refused by %s (HTTP %ld%s%s): it is gated or private; %s",
                      v->dataset, v->host, r->status, msg[0] ? ": " : "", msg,
                      v->token ? "the token given (HF_TOKEN or the token file) has no access: accept the dataset's "
                                 "terms on its page with that account"
                               : "accept its terms on the dataset's page and set HF_TOKEN (or the token file "
                                 "$HF_HOME/token) to an access token");
}

/* GET /splits: the {dataset, config, split} list, or an error naming the dataset. */
static int list_splits(viewer *v, json_t **splits)
{
    ohub_reply r = {0};
    char *url = api_url(v, "splits", NULL, NULL, 0, 0), *msg = NULL;
    json_t *doc = NULL;
    int rc;
    if (!url)
        return OLIVE_ENOMEM;
    rc = get(v, &r, url);
    free(url);
    if (rc == OLIVE_OK && r.status != 200) {
        msg = reply_error(&r);
        if (r.status == 401 || r.status == 403)
            rc = refused(v, &r, msg ? msg : "");
        else if (r.status == 404)
            rc = olive_fail(OLIVE_ENOTFOUND, "dataset '%s' not found on %s (HTTP 404%s%s)%s", v->dataset, v->endpoint,
                            msg && msg[0] ? ": " : "", msg ? msg : "",
                            v->token ? "" : "; if it is gated or private, set HF_TOKEN");
        else
            rc = olive_fail(OLIVE_EIO, "%s answered HTTP %ld for the splits of dataset '%s'%s%s", v->host, r.status,
                            v->dataset, msg && msg[0] ? ": " : "", msg ? msg : "");
    }
    if (rc == OLIVE_OK) {
        doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        if (!json_is_array(json_object_get(doc, "splits")))
            rc = olive_fail(OLIVE_EFORMAT, "%s: the splits of dataset '%s' are not the viewer's JSON", v->host,
                            v->dataset);
        else
            *splits = json_incref(json_object_get(doc, "splits"));
    }
    json_decref(doc);
    free(msg);
    ohub_reply_clear(&r);
    return rc;
}

/* The dataset's one config when the query names none. */
static int resolve_config(viewer *v, char **config)
{
    json_t *splits = NULL, *names = json_array();
    olive_strbuf list = {0};
    int rc;
    if (!names)
        return OLIVE_ENOMEM;
    if ((rc = list_splits(v, &splits)) != OLIVE_OK) {
        json_decref(names);
        return rc;
    }
    for (size_t i = 0; i < json_array_size(splits); i++) {
        json_t *c = json_object_get(json_array_get(splits, i), "config");
        int seen = 0;
        for (size_t j = 0; j < json_array_size(names) && json_is_string(c); j++)
            seen |= json_equal(json_array_get(names, j), c);
        if (json_is_string(c) && !seen) {
            json_array_append(names, c);
            olive_strbuf_printf(&list, "%s%s", list.len ? ", " : "", json_string_value(c));
        }
    }
    if (json_array_size(names) == 1)
        rc = (*config = olive_strdup(json_string_value(json_array_get(names, 0)))) ? OLIVE_OK : OLIVE_ENOMEM;
    else if (!json_array_size(names))
        rc = olive_fail(OLIVE_ENOTFOUND, "dataset '%s' on %s has no config the viewer can serve", v->dataset,
                        v->endpoint);
    else
        rc = olive_fail(OLIVE_EINVALID, "dataset '%s' has several configs (%s): name one as the subset", v->dataset,
                        list.data);
    olive_strbuf_free(&list);
    json_decref(names);
    json_decref(splits);
    return rc;
}

/* A 404 for rows: says whether the dataset, its config or the split is missing, and what is there. */
static int rows_not_found(viewer *v, const char *config, const char *split, const char *msg)
{
    json_t *splits = NULL;
    olive_strbuf have = {0};
    int rc = list_splits(v, &splits), shown = 0, config_known = 0;
    if (rc != OLIVE_OK)
        return rc; /* the dataset itself: named by list_splits */
    for (size_t i = 0; i < json_array_size(splits); i++) {
        const json_t *s = json_array_get(splits, i);
        const char *c = json_string_value(json_object_get(s, "config")),
                   *n = json_string_value(json_object_get(s, "split"));
        if (c && n && shown++ < 24)
            olive_strbuf_printf(&have, "%s%s/%s", have.len ? ", " : "", c, n);
        config_known |= c && !strcmp(c, config);
    }
    if (shown > 24)
        olive_strbuf_printf(&have, " and %d more", shown - 24);
    if (config_known)
        rc = olive_fail(OLIVE_ENOTFOUND,
                        "dataset '%s' has no split '%s' in config '%s' on %s (HTTP 404%s%s); it has (config/split): %s",
                        v->dataset, split, config, v->endpoint, msg[0] ? ": " : "", msg, have.len ? have.data : "none");
    else
        rc = olive_fail(OLIVE_ENOTFOUND,
                        "dataset '%s' has no config '%s' on %s (HTTP 404%s%s); it has (config/split): %s", v->dataset,
                        config, v->endpoint, msg[0] ? ": " : "", msg, have.len ? have.data : "none");
    olive_strbuf_free(&have);
    json_decref(splits);
    return rc;
}

/* One page of rows from `offset` appended to doc.rows; the split's size set. */
static int fetch_page(viewer *v, json_t *doc, const char *config, const char *split, long long length)
{
    json_t *rows = json_object_get(doc, "rows"), *page = NULL, *items;
    long long offset = (long long)json_array_size(rows);
    ohub_reply r = {0};
    char *url = api_url(v, "rows", config, split, offset, length), *msg = NULL;
    int rc;
    if (!url)
        return OLIVE_ENOMEM;
    rc = get(v, &r, url);
    free(url);
    if (rc == OLIVE_OK && r.status != 200) {
        msg = reply_error(&r);
        if (!msg)
            rc = OLIVE_ENOMEM;
        else if (r.status == 401 || r.status == 403)
            rc = refused(v, &r, msg);
        else if (r.status == 404)
            rc = rows_not_found(v, config, split, msg);
        else
            rc = olive_fail(OLIVE_EIO,
                            "%s answered HTTP %ld for rows %lld.. of dataset '%s' (config '%s', split '%s')%s%s",
                            v->host, r.status, offset, v->dataset, config, split, msg[0] ? ": " : "", msg);
    }
    if (rc == OLIVE_OK) {
        const json_t *total;
        page = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
        items = json_object_get(page, "rows");
        total = json_object_get(page, "num_rows_total");
        if (!json_is_array(items) || !json_is_integer(total) || json_integer_value(total) < offset)
            rc = olive_fail(OLIVE_EFORMAT, "%s: the reply for rows %lld.. of dataset '%s' is not the viewer's JSON",
                            v->host, offset, v->dataset);
        else
            json_object_set(doc, "num_rows_total", (json_t *)total);
        if (rc == OLIVE_OK && !json_object_get(doc, "features") && json_object_get(page, "features"))
            json_object_set(doc, "features", json_object_get(page, "features"));
        for (size_t i = 0; rc == OLIVE_OK && i < json_array_size(items) && (long long)i < length; i++) {
            const json_t *it = json_array_get(items, i), *idx = json_object_get(it, "row_idx");
            const json_t *row = json_object_get(it, "row"), *cut = json_object_get(it, "truncated_cells");
            if (!json_is_integer(idx) || json_integer_value(idx) != offset + (long long)i || !json_is_object(row))
                rc = olive_fail(OLIVE_EFORMAT,
                                "%s: row %lld of dataset '%s' (config '%s', split '%s') is missing or "
                                "out of order in the reply",
                                v->host, offset + (long long)i, v->dataset, config, split);
            else if (json_array_size(cut))
                rc = olive_fail(OLIVE_EFORMAT,
                                "%s truncated column '%s' of row %lld of dataset '%s' (config '%s', split '%s'): "
                                "the viewer serves such cells cut short, so the rows cannot be used as they are",
                                v->host,
                                json_string_value(json_array_get(cut, 0)) ? json_string_value(json_array_get(cut, 0))
                                                                          : "?",
                                offset + (long long)i, v->dataset, config, split);
            else
                json_array_append(rows, (json_t *)row);
        }
        if (rc == OLIVE_OK && !json_array_size(items) && offset < json_integer_value(total))
            rc = olive_fail(OLIVE_EFORMAT,
                            "%s gave no rows at offset %lld of dataset '%s' (config '%s', split '%s'), "
                            "which has %lld",
                            v->host, offset, v->dataset, config, split, (long long)json_integer_value(total));
    }
    json_decref(page);
    free(msg);
    ohub_reply_clear(&r);
    return rc;
}

static int fetch(viewer *v, json_t *doc, const char *config, const char *split, long long need)
{
    long long before = (long long)json_array_size(json_object_get(doc, "rows"));
    for (;;) {
        long long have = (long long)json_array_size(json_object_get(doc, "rows"));
        long long total = json_integer_value(json_object_get(doc, "num_rows_total")); /* -1: not known yet */
        long long goal = need < 0 ? total : total < 0 || need < total ? need : total;
        long long length = goal < 0 ? PAGE_ROWS : goal - have;
        if (goal >= 0 && have >= goal)
            break;
        OLIVE_TRY(fetch_page(v, doc, config, split, length < PAGE_ROWS ? length : PAGE_ROWS));
    }
    OLIVE_INFO("dataset '%s' (config '%s', split '%s'): %lld rows fetched from %s", v->dataset, config, split,
               (long long)json_array_size(json_object_get(doc, "rows")) - before, v->host);
    return OLIVE_OK;
}

#endif

#ifdef OHUB_HAVE_CURL
/* Online: names the config when none was, reads what the cache has, fetches the rest. */
static int fetch_and_serve(json_t **rows, long long *total, const ohub_rows_query *q, long long need, const char *root,
                           char **config, char **path, json_t **doc)
{
    viewer v;
    int rc = viewer_open(&v, q->dataset);
    if (rc == OLIVE_OK && !*config && (rc = resolve_config(&v, config)) == OLIVE_OK &&
        (*path = cache_path(root, q->dataset, *config, q->split)))
        *doc = cache_read(*path, q->dataset, *config, q->split);
    if (rc == OLIVE_OK && !*path)
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !*doc &&
        !(*doc = json_pack("{s:s, s:s, s:s, s:I, s:[]}", "dataset", q->dataset, "config", *config, "split", q->split,
                           "num_rows_total", (json_int_t)-1, "rows")))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !satisfied(*doc, need)) {
        rc = fetch(&v, *doc, *config, q->split, need);
        if (rc == OLIVE_OK)
            cache_write(*path, *doc);
    }
    if (rc == OLIVE_OK)
        rc = serve(rows, total, *doc, q->need);
    viewer_close(&v);
    return rc;
}
#endif

int ohub_dataset_rows(json_t **rows, long long *total, const ohub_rows_query *q)
{
    int offline = ohub_env_true("HF_HUB_OFFLINE") || ohub_env_true("HF_DATASETS_OFFLINE"), rc;
    long long need = q->need == 0 ? 1 : q->need; /* at least one row: the split is then known to exist */
    char *root, *config = NULL, *path = NULL;
    json_t *doc = NULL;
    *rows = NULL;
    if (!ohub_dataset_name_valid(q->dataset))
        return olive_fail(OLIVE_EINVALID, "'%s' is not a dataset name on the Hugging Face Hub (name or org/name)",
                          q->dataset);
    if ((q->config && !name_ok(q->config)) || !name_ok(q->split))
        return olive_fail(OLIVE_EINVALID, "dataset '%s': the %s name '%s' is empty, too long or has control characters",
                          q->dataset, q->config && !name_ok(q->config) ? "config" : "split",
                          q->config && !name_ok(q->config) ? q->config : q->split);
    if (!(root = cache_root()))
        return olive_fail(OLIVE_EINVALID, "no cache folder for dataset rows: set HF_HOME or HF_DATASETS_CACHE");
    if (q->config)
        config = olive_strdup(q->config);
    else if (offline)
        config = only_cached_config(root, q->dataset);
    if (config && (path = cache_path(root, q->dataset, config, q->split)))
        doc = cache_read(path, q->dataset, config, q->split);
    if (doc && satisfied(doc, need)) {
        rc = serve(rows, total, doc, q->need);
    } else {
#ifdef OHUB_HAVE_CURL
        int can_fetch = !offline;
#else
        int can_fetch = 0;
#endif
        if (!can_fetch)
            rc = olive_fail(offline ? OLIVE_ENOTFOUND : OLIVE_EUNSUPPORTED,
                            "the rows of dataset '%s' (config '%s', split '%s') are not in the cache %s (%lld held, "
                            "%s needed)%s",
                            q->dataset,
                            config      ? config
                            : q->config ? q->config
                                        : "(none named)",
                            q->split, root, (long long)json_array_size(json_object_get(doc, "rows")),
                            need < 0 ? "all" : "more",
                            offline ? ", and HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set: nothing is downloaded"
                                    : ", and this libolive was built without libcurl");
#ifdef OHUB_HAVE_CURL
        else
            rc = fetch_and_serve(rows, total, q, need, root, &config, &path, &doc);
#endif
    }
    json_decref(doc);
    free(config);
    free(path);
    free(root);
    return rc;
}
