/* The workflow cache: one folder per pass run, named by the sha256 of what determines its
 * result (the input's content, the pass, its resolved parameters and, for passes that depend
 * on it, the accelerator). Entries are built in a staging folder named after its owner process,
 * their files fsynced, then renamed into place: readers on any node see a whole entry or none.
 * Many processes (on many machines sharing the folder) may fill one cache: two that compute the
 * same entry both publish by rename, the second finds the first's entry, verifies it and uses
 * it. Nothing relies on file locks. Each entry carries a manifest with its files' sha256, and
 * every reuse hashes the entry's bytes again (no size or date is trusted for them); a damaged
 * entry is renamed away whole before it is removed. */
#ifndef OLIVE_WORKFLOW_CACHE_H
#define OLIVE_WORKFLOW_CACHE_H

#include <jansson.h>

#include "core/sha256.h"
#include "core/strmap.h"
#include "ir/ir.h"

typedef struct wf_cache {
    char *dir;          /* cache_dir */
    char *runs;         /* <cache_dir>/runs: one folder per entry */
    char *table_path;   /* <cache_dir>/file_hashes.tsv */
    olive_strmap files; /* absolute path -> struct wf_file_hash * */
    int dirty;
} wf_cache;

/* Opens (creating) the cache folder and removes what killed runs left: staging folders whose
 * owner is provably gone (see olive_engine_clean_staging) and temporary files untouched for an
 * hour; `clean` removes every entry first.
 * Errors: OLIVE_EIO naming the folder. */
int wf_cache_open(wf_cache *c, const char *dir, int clean);
/* Writes back the file-hash table (best effort) and frees everything. */
void wf_cache_close(wf_cache *c);

/* sha256 of an input file's bytes, reusing the hash recorded for the same (path, size, mtime,
 * ctime, inode) so that big unchanged inputs are not read again (a write, or an mtime set
 * back, changes the ctime). */
int wf_cache_file_hash(wf_cache *c, const char *path, char hex[OLIVE_SHA256_HEX]);

/* Content identity of a model's input files: the hash of their names and hashes. */
int wf_cache_model_identity(wf_cache *c, const oir_model *m, char hex[OLIVE_SHA256_HEX]);

/* Looks up an entry. On a hit *out receives the model loaded from it (companions attached)
 * and *manifest its manifest (owned); on a miss both are NULL. An entry whose files do not
 * match their manifest is removed (and logged) and counts as a miss. */
int wf_cache_lookup(wf_cache *c, const char *key, oir_model **out, json_t **manifest);

/* Saves `m` as the entry `key` with `info` merged into its manifest, then loads it back into
 * *out (weights mapped from the entry). When another process published `key` meanwhile, its
 * entry is verified and loaded instead (this one's is discarded); a damaged one is replaced.
 * Errors: those of saving and loading; OLIVE_EIO naming the entry when it cannot be published. */
int wf_cache_store(wf_cache *c, const char *key, const oir_model *m, const json_t *info, oir_model **out);

/* "<runs>/<key>" (owned by the caller). */
char *wf_cache_entry_dir(const wf_cache *c, const char *key);

/* The files of an entry as its manifest lists them: {name: sha256}. Errors: OLIVE_EFORMAT
 * for an unreadable manifest. */
int wf_cache_entry_files(const wf_cache *c, const char *key, json_t **out);

/* Total bytes of the files of an entry (its manifest excluded). */
int wf_cache_entry_size(const wf_cache *c, const char *key, uint64_t *out);

/* The evaluation recorded under `key` (<cache_dir>/evaluations/<key>.json), verified against the
 * sha256 stored with it: *out receives it (owned), or NULL when there is none or it does not
 * verify (logged; it is evaluated again and replaced). Errors: OLIVE_ENOMEM. */
int wf_cache_eval_load(const wf_cache *c, const char *key, json_t **out);

/* Records `result` under `key` with its sha256, written atomically. Errors: OLIVE_EIO, OLIVE_ENOMEM. */
int wf_cache_eval_store(const wf_cache *c, const char *key, const json_t *result);

#endif
