/* Activation capture: a model run by ONNX Runtime (through the onnxruntime backend) on
 * calibration batches, with chosen intermediate values as extra outputs. Each batch's values
 * are handed to a callback, in batch order, and freed after it; memory holds the captured
 * values of as many batches as run at once (one, or the runners of olive_capture_open_workers),
 * whatever the number of batches.
 *
 * ONNX Runtime runs the model with graph optimizations off, as onnxruntime's calibrators do,
 * so the captured values are those of the graph as written (no fused kernel changes them). */
#ifndef OLIVE_PASSES_CALIBRATE_CAPTURE_H
#define OLIVE_PASSES_CALIBRATE_CAPTURE_H

#include <stddef.h>

#include "ir/ir.h"
#include "olive/session.h"
#include "passes/calibrate/calib_data.h"
#include "passes/registry.h"

typedef struct olive_capture olive_capture;

/* Prepares a session for `m` with the values `names[0..n)` (node outputs or graph inputs of
 * the main graph) as outputs. The model is written to a private temporary folder, loaded and
 * the folder removed; `m` is left as it was. The accelerator of `ctx` (CPU when none) runs it.
 * Errors: those of olive_session_new (ONNX Runtime missing, the model refused), OLIVE_ENOMEM. */
int olive_capture_open(olive_capture **out, oir_model *m, const char *const *names, size_t n, olive_pass_ctx *ctx,
                       const char *pass);

/* olive_capture_open with `workers` batches run at once on the CPU (0: as many as the machine's
 * cores, at most 2), each on a thread of its own with ONNX Runtime's intra-op threads the cores
 * divided among them; other providers run one batch at a time. The callback still sees the
 * batches one at a time, in order, on the calling thread. The values are those of a run of that
 * batch alone: ONNX Runtime's CPU GEMM splits its work by rows and columns, not along the
 * sums, so the thread count does not change them (the ranges of BERT and MiniLM models were
 * checked equal to quantize_static's, which runs on all the cores).
 * Errors: those of olive_capture_open. */
int olive_capture_open_workers(olive_capture **out, oir_model *m, const char *const *names, size_t n, int workers,
                               olive_pass_ctx *ctx, const char *pass);

/* The dtype ONNX Runtime gives value `index` (OLIVE_DTYPE_UNDEFINED when not a plain tensor). */
olive_dtype olive_capture_dtype(const olive_capture *c, size_t index);

/* Called once per batch and captured value; returns OLIVE_OK or an error that stops the run. */
typedef int (*olive_capture_fn)(void *user, size_t index, const olive_tensor *value);

/* Runs every batch of `batch_size` samples (the last one may be smaller) of `data`, capturing
 * the values whose `wanted[index]` is non-zero, and reports progress through ctx from
 * `progress_from` to `progress_to`. Errors: OLIVE_EINVALID (the calibration inputs do not fit
 * the model: the message names the input), OLIVE_EFORMAT (ONNX Runtime failed a run),
 * OLIVE_ECANCELLED, the callback's errors. */
int olive_capture_run(olive_capture *c, const olive_calib_data *data, int64_t batch_size, const unsigned char *wanted,
                      olive_capture_fn fn, void *user, olive_pass_ctx *ctx, double progress_from, double progress_to);

void olive_capture_free(olive_capture *c);

/* A new private folder under $TMPDIR (else /tmp) for calibration's files, "olive-calibrate-XXXXXX";
 * the caller removes it (olive_rmtree) and frees the path. NULL on error (message set). */
char *olive_calib_temp_dir(void);

/* The execution provider calibration runs on: the accelerator's of ctx, or the CPU's when the
 * loaded ONNX Runtime lacks it (an info line says so), as values are the model's either way. */
const char *olive_calib_provider(const olive_pass_ctx *ctx, const char *pass);

#endif
