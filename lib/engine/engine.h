/* The engine: an ordered pipeline of pass instances run on a model for an accelerator. */
#ifndef OLIVE_ENGINE_ENGINE_H
#define OLIVE_ENGINE_ENGINE_H

#include <stdatomic.h>
#include <sys/stat.h>

#include "passes/instance.h"
#include "olive/olive.h"

struct olive_engine {
    olive_accelerator *acc;
    olive_pass **passes;
    size_t n_passes, cap_passes;
    olive_progress_fn progress;
    void *progress_user;
    atomic_int cancelled; /* lock-free, so safe from other threads and signal handlers */
    char *save_options;   /* text for olive_model_save, "" by default */
    char *model_name;     /* file name in the output folder */
    int overwrite;
    int quiet; /* the caller logs each pass itself (workflows) */
};

/* Parses pipeline text into new pass instances (all or nothing).
 * "peephole ! quantize bits=4 block_size=32". */
int olive_pipeline_parse(olive_pass ***out, size_t *count, const char *text);
/* Text form of a pipeline: each pass with the parameters that differ from their defaults. */
char *olive_pipeline_format(olive_pass *const *passes, size_t count);

/* Loads `path`: an ONNX model (weights mapped), or a Hugging Face folder / GGUF file recorded as
 * a source checkpoint for the convert pass. Errors: those of onnx_load_file. */
int olive_engine_load_model(oir_model **out, const char *path);

/* Runs the engine's pipeline (see olive_engine_run). */
int olive_engine_execute(olive_engine *e, const oir_model *input, const char *output_dir, oir_model **out);

/* ---- output folders (publish.c) ----
 * An output folder is built in a staging folder beside its final name,
 * "<parent>/.<name>.tmp-<boot>-<pid>-<start>-XXXXXX" (the owner process in the name: <boot> is
 * the first 8 hex digits of the kernel's boot id, or, in a pid namespace other than the initial
 * one (a container), of the sha256 of the boot id and the namespace's /proc/self/ns/pid link), then
 * published: exchanged with the old folder in one rename (renameat2 RENAME_EXCHANGE), so that
 * the path holds the old output or the new one at every instant. The published folder lists
 * the names libolive wrote in OLIVE_OUTPUT_MANIFEST; on the next publish those are replaced
 * and everything else in the folder (a user's notes, a saved config, their folders and links)
 * is kept. Nothing is ever followed through a symbolic link. */
#define OLIVE_OUTPUT_MANIFEST ".libolive-output"

/* Creates the staging folder for `output_dir` (and its parent), after removing the stale
 * staging folders of the same name (olive_engine_clean_staging). Errors: OLIVE_EIO. */
int olive_engine_make_staging(char **out, const char *output_dir);

/* Removes the staging folders in `folder` that their owner left behind: for the final name
 * `name`, or of any name when NULL. A staging folder is stale when its owner process is gone
 * (same boot and pid namespace), or when it was made under another boot, machine or container
 * and neither it nor a file in it was modified for a day;
 * a live run's staging folder is never touched. An old output moved aside by a killed run
 * (the fallback of olive_engine_publish) goes back to `name` when nothing is there. */
void olive_engine_clean_staging(const char *folder, const char *name);

/* Replace a file the user put in the old output folder when the new output has one of the same
 * name (engine option overwrite=true); without it such a clash is an OLIVE_EEXISTS error. */
#define OLIVE_PUBLISH_REPLACE_FOREIGN 1

/* Moves the finished staging folder to `dir`: a new folder, or in place of an old one whose
 * files libolive did not write are carried over (hard links, or copies). The staging folder is
 * left for the caller to remove on failure. Errors: OLIVE_EINVALID (`dir` is a symbolic link),
 * OLIVE_EEXISTS (`dir` is not a folder, or a clash as above), OLIVE_EUNSUPPORTED (an entry that
 * cannot be kept: a device, socket or pipe), OLIVE_EIO. */
int olive_engine_publish(const char *staging, const char *dir, int flags);
/* An existing output path, as lstat described it in `st`, must be a folder and not a link.
 * Errors: OLIVE_EINVALID (a symbolic link: libolive never writes through one), OLIVE_EEXISTS
 * (not a folder). */
int olive_engine_check_output_kind(const char *dir, const struct stat *st);

/* 1 if `dir` is a folder with a manifest of libolive's, 0 otherwise. */
int olive_engine_output_is_ours(const char *dir);

/* For the C tests only: `hook` is called with the name of each step of olive_engine_publish
 * ("before-rename", "carried", "exchanged", "before-aside", "aside", "renamed"), and
 * `force_fallback` takes the path used where the file system has no RENAME_EXCHANGE. */
typedef void (*olive_publish_hook)(const char *step, void *user);
void olive_engine_publish_test_hook(olive_publish_hook hook, void *user, int force_fallback);

/* Refuses `path` (named `what` in the message, e.g. "output_dir") when it is, contains or is
 * inside a file or folder of the input model `input` (its model file, external data, companion
 * files, checkpoint) or `input_folder` (a model folder; may be NULL), links resolved.
 * Errors: OLIVE_EINVALID, OLIVE_ENOMEM. */
int olive_engine_check_apart(const oir_model *input, const char *input_folder, const char *path, const char *what);

#endif
