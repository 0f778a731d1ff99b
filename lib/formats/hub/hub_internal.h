/* Shared by the hub files: cache paths, snapshot checks, progress. */
#ifndef OLIVE_FORMATS_HUB_INTERNAL_H
#define OLIVE_FORMATS_HUB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* <cache>/models--org--name; caller frees. */
char *ohub_repo_dir(const char *cache, const char *repo);
/* 1 for a full lower-case 40-hex commit id. */
int ohub_is_commit(const char *rev);
/* The commit `revision` names in the cache (itself when a commit id), or NULL. */
char *ohub_cached_commit(const char *repo_dir, const char *revision);
/* The distinct shard names of a weights index (…index.json); caller frees each and the array. */
int ohub_index_shards(const char *index_path, char ***out, size_t *count);
/* snapshots/<commit> when it holds a complete checkpoint (or `file`); OLIVE_ENOTFOUND if not. */
int ohub_snapshot_ready(char **out, const char *repo_dir, const char *commit, const char *file);

/* Weight layouts in the order they are preferred: an index (with its shards) or one file. */
extern const char *const ohub_weight_indexes[];
extern const char *const ohub_weight_files[];

/* Download progress: a bar redrawn on a terminal, otherwise a line per file. */
typedef struct ohub_progress {
    const char *repo;
    int tty;
    uint64_t total, done; /* bytes to fetch in this run, fetched so far */
    double start, last_draw;
} ohub_progress;

void ohub_progress_start(ohub_progress *p, const char *repo, uint64_t total, size_t files);
void ohub_progress_add(ohub_progress *p, uint64_t bytes);
void ohub_progress_file_done(ohub_progress *p, const char *file, uint64_t size);
void ohub_progress_end(ohub_progress *p, int ok);

#endif
