/* libolive — engine.
 *
 * An engine runs an ordered pipeline of passes on a model for an accelerator and writes the
 * result to an output folder. Pipelines are built with olive_engine_add_pass or from their
 * text form: "peephole ! quantize bits=4 block_size=32" (passes separated by "!", each
 * followed by its key=value settings).
 */
#ifndef OLIVE_ENGINE_H
#define OLIVE_ENGINE_H

#include "olive/common.h"
#include "olive/model.h"
#include "olive/pass.h"
#include "olive/accelerator.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct olive_engine olive_engine;

/* Progress events. */
#define OLIVE_PROGRESS_PASS_STARTED 0
#define OLIVE_PROGRESS_PASS_PROGRESS 1
#define OLIVE_PROGRESS_PASS_FINISHED 2
#define OLIVE_PROGRESS_SAVING 3
#define OLIVE_PROGRESS_DONE 4

/* Called during olive_engine_run on the calling thread. `pass_name` is the running pass (or
 * "save"), `pass_index`/`pass_count` place it in the pipeline, `fraction` is the part of the
 * whole run done (0..1), `bytes_written` counts the bytes of weight data written to the output
 * so far (the model file's graph structure is not counted).
 * PASS_STARTED, PASS_FINISHED and DONE come once each. PASS_PROGRESS and SAVING are throttled:
 * per pass, and for the save, the callback gets the first event (SAVING with 0 bytes written)
 * and the last (a pass's fraction reaching its end; SAVING with every byte written), and
 * between them at most one event per 0.1 s however often the pass or the writer reports
 * (the writer reports every tensor). A cancel still takes effect at every report.
 * Return non-zero to cancel the run (it then fails with OLIVE_ECANCELLED and writes nothing).
 * The DONE event comes after the output is in place; its return value is ignored. */
typedef int (*olive_progress_fn)(int event, const char *pass_name, size_t pass_index, size_t pass_count,
                                 double fraction, uint64_t bytes_written, void *user);

/* Creates an engine for `acc` (the engine keeps its own reference; NULL means cpu with
 * CPUExecutionProvider). Release with olive_engine_free.
 * Errors: OLIVE_ENOMEM. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_engine_new(olive_engine **out, olive_accelerator *acc);

/* Releases the engine and its references to passes and the accelerator. Accepts NULL.
 * Since 0.1. */
OLIVE_API void olive_engine_free(olive_engine *engine);

/* Appends a copy of `pass` (its parameters as they are now) to the pipeline: setting the
 * caller's pass later does not change the pipeline, and the caller may free it at once.
 * Errors: OLIVE_EINVALID, OLIVE_ENOMEM. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_engine_add_pass(olive_engine *engine, olive_pass *pass);

/* Appends the passes of a pipeline in text form. All or nothing: on error the pipeline is
 * unchanged. Errors: OLIVE_EINVALID (syntax or value; the message names the pass and key),
 * OLIVE_ENOTFOUND (unknown pass or key). Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_engine_add_pipeline(olive_engine *engine, const char *text);

/* Number of passes in the pipeline, and the i-th pass (borrowed; NULL if out of range).
 * Since 0.1. */
OLIVE_API size_t olive_engine_pass_count(const olive_engine *engine);
OLIVE_API olive_pass *olive_engine_pass_at(const olive_engine *engine, size_t index);

/* Writes the pipeline in text form into *out (release with olive_free). Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_engine_pipeline_text(char **out, const olive_engine *engine);

/* Sets the progress callback (NULL to remove). Since 0.1. */
OLIVE_API void olive_engine_set_progress(olive_engine *engine, olive_progress_fn fn, void *user);

/* Sets engine options from "key=value" text, space separated:
 *   save=<options of olive_model_save>  (e.g. "save=size_threshold=4096"; repeatable)
 *   overwrite=true|false   (write into a non-empty output folder, replacing the files
 *                           libolive wrote there and any of the same names as the new ones;
 *                           other files stay; default false)
 *   model_name=NAME        (file name of the model in the output folder; default model.onnx)
 * Errors: OLIVE_EINVALID, OLIVE_ENOTFOUND (unknown key). Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_engine_set_options(olive_engine *engine, const char *options);

/* Asks a running olive_engine_run to stop at the next check point. Safe to call from any
 * thread or a signal handler. Since 0.1. */
OLIVE_API void olive_engine_cancel(olive_engine *engine);

/* Runs the pipeline on `model` and, when `output_dir` is not NULL, writes the result there
 * atomically (built in a temporary folder beside it, then exchanged with the old folder in one
 * step). The folder lists what libolive wrote in a hidden manifest (.libolive-output); files
 * it did not write survive a later run. When `out` is not NULL it receives the resulting model
 * (release with olive_model_free). The input model is unchanged.
 * Errors: OLIVE_EINVALID (output_dir is a symbolic link, or is, holds or is inside a file the
 * model was loaded from), OLIVE_EEXISTS (output folder exists and is not empty, without
 * overwrite=true), OLIVE_EUNSUPPORTED (the old folder holds a device, socket or pipe, which
 * cannot be kept), OLIVE_ECANCELLED, and any error of the passes or of olive_model_save.
 * Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_engine_run(olive_engine *engine, const olive_model *model, const char *output_dir,
                                               olive_model **out);

#ifdef __cplusplus
}
#endif
#endif
