/* The frame the calibrated MatMul weight quantizers (gptq, awq) share around their own
 * algorithm: the MatMulNBits parameters they accept, the float weight read as rows of output
 * channels, the capture of a group of MatMul inputs, and the model's clean-up once the
 * MatMuls are replaced (nbits_writer.h writes each one). */
#ifndef OLIVE_PASSES_CALIBRATE_MATMUL_QUANTIZER_H
#define OLIVE_PASSES_CALIBRATE_MATMUL_QUANTIZER_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "passes/calibrate/calib_data.h"
#include "passes/calibrate/capture.h"
#include "passes/registry.h"

/* Checks `bits` (4 or 8) and `group_size` (a power of 2 from 16 to 256), as MatMulNBits takes
 * them; `pass` names the caller in messages. Errors: OLIVE_EINVALID. */
int olive_calib_nbits_check(const char *pass, int bits, int64_t group_size);

/* Copies the float32 weight w [K, N] of MatMul `node` (its data may be unaligned) into
 * out[N][K], transposed. Errors: OLIVE_EFORMAT (a NaN or infinite weight: the message names
 * the weight, the MatMul and the place). */
int olive_calib_weight_rows(const oir_tensor *w, const char *node, float *out, const char *pass);

/* Copies the float32 weight w [K, N] of MatMul `node` (its data may be unaligned) into
 * out[K][N] as it is. Errors: those of olive_calib_weight_rows. */
int olive_calib_weight_copy(const oir_tensor *w, const char *node, float *out, const char *pass);

/* Runs every batch of `data` through `m`, handing the values names[0..n) (MatMul inputs,
 * each float32) to fn, and reports progress from `from` to `to`.
 * Errors: those of olive_capture_open and olive_capture_run, OLIVE_EUNSUPPORTED (a value that
 * is not float32), OLIVE_ENOMEM. */
int olive_calib_capture_inputs(oir_model *m, const char *const *names, size_t n, const olive_calib_data *data,
                               int64_t batch_size, olive_capture_fn fn, void *user, olive_pass_ctx *ctx,
                               const char *pass, double from, double to);

/* The MatMul inputs of a pass, captured a group at a time: each input holds `bytes` while its
 * group runs, and a group is the inputs (at least one) that fit `budget` bytes together. The
 * calibration data runs once per group. */
typedef struct olive_calib_groups {
    size_t n;
    uint64_t budget;
    const char *(*name)(void *user, size_t i);
    uint64_t (*bytes)(void *user, size_t i);
    int (*open)(void *user, size_t i);                    /* input i joins the group (allocates) */
    int (*finish)(void *user, size_t first, size_t last); /* after the capture: the group's work */
    void (*close)(void *user, size_t i);                  /* after the group, always (frees) */
    olive_capture_fn gather;                              /* index: the input's place in its group */
    void *user;
    /* 1: layer by layer where the model has layers (layerwise.h), each layer calibrated on the
     * outputs of the layers before it as quantized; budget is then not used */
    int sequential;
} olive_calib_groups;

/* Which MatMuls a pass quantizes (1) or leaves in float (0). */
typedef int (*olive_calib_select_fn)(const void *user, const oir_node *n);

/* Quantizes the MatMuls of `m` that `selected(groups->user, node)` takes: captures each group
 * of inputs (olive_calib_capture_inputs: batches of `batch_size`, progress from 0 to 0.9 by
 * inputs done; with groups->sequential, layer by layer as layerwise.h says) and runs its `finish`, which replaces MatMuls by MatMulNBits; then makes the model
 * whole again: the com.microsoft opset MatMulNBits needs, and the float weights of the
 * selected MatMuls removed where nothing reads them any more.
 * Errors: those of the callbacks and of olive_calib_capture_inputs, OLIVE_ENOMEM. */
int olive_calib_replace_matmuls(oir_model *m, olive_calib_select_fn selected, const olive_calib_groups *groups,
                                const olive_calib_data *data, int64_t batch_size, olive_pass_ctx *ctx,
                                const char *pass);

/* The MatMulNBits parameter specs gptq and awq share (after OLIVE_CALIB_DATA_PARAMS). */
#define OLIVE_CALIB_NBITS_PARAMS                                                                                       \
    {.name = "bits",                                                                                                   \
     .type = OLIVE_PARAM_INT,                                                                                          \
     .default_value = "4",                                                                                             \
     .min = 4,                                                                                                         \
     .max = 8,                                                                                                         \
     .choices = NULL,                                                                                                  \
     .help = "Bits per weight: 4 or 8"},                                                                               \
        {.name = "group_size",                                                                                         \
         .type = OLIVE_PARAM_INT,                                                                                      \
         .default_value = "128",                                                                                       \
         .min = 16,                                                                                                    \
         .max = 256,                                                                                                   \
         .choices = NULL,                                                                                              \
         .help = "Weights per scale along K (MatMulNBits block_size)"},

#endif
