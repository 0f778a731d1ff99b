/* Datasets as Olive's huggingface_dataset loads them with load_dataset(data_name, subset,
 * data_files=..., split=...): local files in the `datasets` library's file forms, or a dataset
 * on the Hugging Face Hub, whose rows come through the Hub's dataset viewer and are cached
 * (formats/hub/hub_datasets.h). Rows are JSON objects. */
#ifndef OLIVE_WORKFLOW_DATA_TABLE_H
#define OLIVE_WORKFLOW_DATA_TABLE_H

#include <jansson.h>

/* Largest data file read (bytes). */
#define WF_DATA_FILE_LIMIT ((size_t)1 << 31)

/* Loads the rows of one split. `params` is load_dataset_config's parameters: data_name
 * ("json", "csv", "text", a local file or folder whose extension says which, or a dataset name
 * on the Hub such as "glue" or "facebook/xnli", with `subset` its config), data_files
 * (a path or glob, a list of them, or {split: paths}), split (default "validation", as Olive's;
 * "train[:N]" and "train[A:B]" slices), subset, data_dir, col_filters ({column: value}), field
 * (json: the key holding the rows). *rows receives a JSON array of objects (text files: one
 * {"text": line} per line, lines split as Python's str.splitlines). `max_rows` says that the
 * caller uses only the selection's first max_rows rows (-1: all): a Hub dataset is then fetched
 * no further than needed. `where` names the config in messages. Errors: OLIVE_EUNSUPPORTED
 * (other formats, data_files with a Hub dataset), OLIVE_ENOTFOUND (a file, split, Hub dataset or
 * config missing; offline and not cached), OLIVE_EFORMAT (a malformed file: file and line),
 * OLIVE_EIO (the Hub not reached), OLIVE_EINVALID (a gated dataset without a token, ...). */
int wf_table_load(json_t **rows, const json_t *params, long long max_rows, const char *where);

/* The rows of one file of a format (json, csv, text); `path` names it in messages. */
int wf_table_parse(json_t **rows, const char *format, const char *text, size_t size, const char *path);

#endif
