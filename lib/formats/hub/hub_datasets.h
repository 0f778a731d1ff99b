/* Rows of a dataset on the Hugging Face Hub, read through the Hub's dataset viewer API
 * (datasets-server), which serves any split of a dataset it has converted as JSON rows:
 *
 *   GET {endpoint}/rows?dataset=NAME&config=CONFIG&split=SPLIT&offset=O&length=L   (L <= 100)
 *       -> {"features": [...], "rows": [{"row_idx", "row": {...}, "truncated_cells"}],
 *           "num_rows_total", "num_rows_per_page", "partial"}
 *   GET {endpoint}/splits?dataset=NAME -> {"splits": [{"dataset", "config", "split"}]}
 *
 * The endpoint is $HF_DATASETS_SERVER_ENDPOINT (default https://datasets-server.huggingface.co).
 * Rows are kept on disk once fetched, from the split's first row on, so that a later run needs
 * no network:
 *
 *   $HF_DATASETS_CACHE (default $HF_HOME/datasets, $HF_HOME default ~/.cache/huggingface)
 *     libolive-rows/<org>--<name>/<config>/<split>.json          the rows and the split's size
 *     libolive-rows/<org>--<name>/<config>/<split>.json.sha256   its sha256, checked on every read
 *
 * (names other than letters, digits, '-', '_' and inner '.' are written %XX). A file whose
 * sha256 or content does not match is not used. HF_HUB_OFFLINE or HF_DATASETS_OFFLINE: cache
 * only. HF_TOKEN (or the token file) is sent for gated and private datasets. */
#ifndef OLIVE_FORMATS_HUB_DATASETS_H
#define OLIVE_FORMATS_HUB_DATASETS_H

#include <jansson.h>

typedef struct ohub_rows_query {
    const char *dataset; /* "glue", "facebook/xnli" */
    const char *config;  /* the subset; NULL: the dataset's only config */
    const char *split;   /* "validation" (a name: no slice) */
    long long need;      /* rows wanted from the split's first; -1: all */
} ohub_rows_query;

/* 1 when `name` has the form of a dataset name on the Hub ("name" or "org/name": letters,
 * digits, '-', '_', '.', no "..", not starting with '.' or '-'), else 0. */
int ohub_dataset_name_valid(const char *name);

/* The split's first min(need, size) rows (all when need is -1) as a new JSON array of objects in
 * *rows (caller owns), and the split's size in *total (may be NULL). Served from the cache when
 * it holds them; otherwise the missing rows are fetched, 100 a request, and the cache is
 * rewritten (a cache that cannot be written is a warning). Errors: OLIVE_ENOTFOUND (dataset,
 * config or split not on the server, named with what it has; offline and not cached),
 * OLIVE_EINVALID (401/403: gated or private, set a token; several configs and none named),
 * OLIVE_EFORMAT (a reply that is not the viewer's JSON, or cells the viewer truncated),
 * OLIVE_EIO (network failure naming the host, other HTTP errors), OLIVE_EUNSUPPORTED (built
 * without libcurl and not cached), OLIVE_ENOMEM. */
int ohub_dataset_rows(json_t **rows, long long *total, const ohub_rows_query *q);

#endif
