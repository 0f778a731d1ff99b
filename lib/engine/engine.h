/* The engine: an ordered pipeline of pass instances run on a model for an accelerator. */
#ifndef OLIVE_ENGINE_ENGINE_H
#define OLIVE_ENGINE_ENGINE_H

#include <stdatomic.h>

#include "passes/instance.h"
#include "olive/olive.h"

struct olive_engine {
    olive_accelerator *acc;
    olive_pass **passes;
    size_t n_passes, cap_passes;
    olive_progress_fn progress;
    void *progress_user;
    atomic_int cancelled;    /* lock-free, so safe from other threads and signal handlers */
    char *save_options;      /* text for olive_model_save, "" by default */
    char *model_name;        /* file name in the output folder */
    int overwrite;
    int quiet;               /* the caller logs each pass itself (workflows) */
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

/* Output folders are built in a staging folder beside their final name, then renamed.
 * make_staging creates "<parent>/.<name>.tmp-XXXXXX" (and the parent); publish moves it into
 * place, replacing an old folder. */
int olive_engine_make_staging(char **out, const char *output_dir);
int olive_engine_publish(const char *staging, const char *dir);

#endif
