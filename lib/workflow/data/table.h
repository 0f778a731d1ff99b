/* Local datasets in the `datasets` library's file forms (what Olive's huggingface_dataset loads
 * with load_dataset("json" | "csv" | "text", data_files=..., split=...)): rows as JSON objects.
 * Nothing is downloaded: a data_name that would need the Hugging Face Hub is refused with a
 * message saying to point data_files at local files. */
#ifndef OLIVE_WORKFLOW_DATA_TABLE_H
#define OLIVE_WORKFLOW_DATA_TABLE_H

#include <jansson.h>

/* Largest data file read (bytes). */
#define WF_DATA_FILE_LIMIT ((size_t)1 << 31)

/* Loads the rows of one split. `params` is load_dataset_config's parameters: data_name
 * ("json", "csv", "text", or a local file or folder whose extension says which), data_files
 * (a path or glob, a list of them, or {split: paths}), split (default "validation", as Olive's;
 * "train[:N]" and "train[A:B]" slices), subset, data_dir, col_filters ({column: value}), field
 * (json: the key holding the rows). *rows receives a JSON array of objects (text files: one
 * {"text": line} per line, lines split as Python's str.splitlines). `where` names the config in
 * messages. Errors: OLIVE_EUNSUPPORTED (Hub datasets, other formats), OLIVE_ENOTFOUND (a file or
 * split missing), OLIVE_EFORMAT (a malformed file: file and line), OLIVE_EINVALID. */
int wf_table_load(json_t **rows, const json_t *params, const char *where);

/* The rows of one file of a format (json, csv, text); `path` names it in messages. */
int wf_table_parse(json_t **rows, const char *format, const char *text, size_t size, const char *path);

#endif
