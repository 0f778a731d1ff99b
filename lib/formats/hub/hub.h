/* Models from the Hugging Face Hub, kept in the cache layout huggingface_hub uses, so that
 * Python tools and libolive share one cache:
 *
 *   $HF_HUB_CACHE (default $HF_HOME/hub, $HF_HOME default ~/.cache/huggingface)
 *     models--<org>--<name>/
 *       blobs/<etag>                 the files' bytes, named by the Hub's ETag (the LFS sha256 for
 *                                    large files, the git blob sha1 for small ones)
 *       blobs/<etag>.incomplete      a download in progress, resumed with a Range request
 *       snapshots/<commit>/<file>    relative symbolic links into blobs/
 *       refs/<branch or tag>         the commit the name pointed at when last fetched
 *
 * A blob appears under its name only after its size and (for LFS files) its sha256 matched what
 * the Hub reported; a snapshot link only after its blob. Environment: HF_HOME, HF_HUB_CACHE,
 * HF_HUB_OFFLINE (cache only), HF_TOKEN or the token file ($HF_TOKEN_PATH, default
 * $HF_HOME/token), HF_ENDPOINT (default https://huggingface.co). */
#ifndef OLIVE_FORMATS_HUB_H
#define OLIVE_FORMATS_HUB_H

/* A model named on the Hub: "org/name", optionally "@revision" after the name and a file path
 * after that ("org/name@v1/model-Q4_K_M.gguf"). */
typedef struct ohub_ref {
    char *repo;     /* "org/name" */
    char *revision; /* branch, tag or commit; "main" when none was given */
    char *file;     /* a single file to fetch (a GGUF), or NULL for a checkpoint */
} ohub_ref;

/* Parses `id`. Returns 1 and fills *out when `id` has the form of a Hub reference, 0 when it
 * does not (a local path, say), or OLIVE_ENOMEM. Free with ohub_ref_clear. */
int ohub_ref_parse(ohub_ref *out, const char *id);
void ohub_ref_clear(ohub_ref *r);

/* The cache folder: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub; NULL if none
 * can be named (or out of memory). Caller frees. */
char *ohub_cache_dir(void);

/* Looks `ref` up in the cache only. On success *out (caller frees) is the snapshot folder (the
 * file's path when ref->file is set) holding what conversion needs; OLIVE_ENOTFOUND when the
 * cache lacks the revision or one of its files. Sets no error message on ENOTFOUND. */
int ohub_cache_lookup(char **out, const ohub_ref *ref);

/* Makes what conversion needs for `ref` present in the cache and returns its snapshot folder
 * (or the file's path) in *out (caller frees). A revision already complete in the cache is
 * served from it without contacting the Hub; otherwise the revision is resolved to a commit
 * and the missing files are downloaded concurrently (config, generation config, tokenizer
 * files, the safetensors weights or their index and shards, or the one named file), resumed
 * where an earlier download stopped, and verified.
 * Errors: OLIVE_ENOTFOUND (offline and not cached; repository, revision or file not on the
 * Hub: named), OLIVE_EINVALID (401/403: the repository is gated or private; set a token),
 * OLIVE_EFORMAT (a download does not match the size or sha256 the Hub reported: nothing kept),
 * OLIVE_EIO (network failure naming the host; cache not writable), OLIVE_EUNSUPPORTED (built
 * without libcurl), OLIVE_ENOMEM. */
int ohub_fetch(char **out, const ohub_ref *ref);

#endif
