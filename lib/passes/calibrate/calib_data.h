/* Calibration data for the passes that learn from activations: one .npy file per model input
 * in a folder, named <input name>.npy, whose first axis counts the samples (as Olive's
 * RawDataContainer holds them). The files are mapped, never read whole; a batch is a view
 * of `count` consecutive samples of every input. */
#ifndef OLIVE_PASSES_CALIBRATE_CALIB_DATA_H
#define OLIVE_PASSES_CALIBRATE_CALIB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "formats/npy.h"
#include "ir/ir.h"
#include "olive/session.h"

typedef struct olive_calib_data {
    size_t n_inputs;
    char **names;              /* model input names, in the graph's order */
    olive_npy *arrays;         /* one per name (zeroed for an empty past input) */
    unsigned char *empty_past; /* 1: no file; fed as an empty past key/value (see below) */
    int64_t n_samples;         /* length of every array's first axis */
} olive_calib_data;

/* Opens `folder` for the graph inputs of `g` that are not initializers. Every such input needs
 * its file, except a decoder's past key/value inputs ("past_key_values.*" or "past_*", float, a
 * symbolic batch dim and a symbolic dim whose name holds "past" or "sequence"): without a file
 * they are fed empty (that dim 0), as a prompt's first run sees them; every .npy file must name an input, all arrays must have rank >= 1 and the same
 * number of samples (at least one). `pass` names the caller in messages.
 * Errors: OLIVE_EINVALID (no folder given, a missing or an extra input, empty data, sample
 * counts that differ), OLIVE_ENOTFOUND (no such folder), OLIVE_EFORMAT (a bad .npy file),
 * OLIVE_ENOMEM. */
int olive_calib_data_open(olive_calib_data *out, const oir_graph *g, const char *folder, const char *pass);

/* Wraps samples [start, start + count) of every input as tensors (borrowed views of the
 * mapped files: valid while `data` is open) into tensors[0..n_inputs); free them with
 * olive_tensor_free. Errors: OLIVE_EINVALID (a range past the end), OLIVE_ENOMEM. */
int olive_calib_data_batch(const olive_calib_data *data, int64_t start, int64_t count, olive_tensor **tensors);

void olive_calib_data_close(olive_calib_data *data);

/* The parameter specs every calibrated pass takes first: where the data is and how it is batched. */
#define OLIVE_CALIB_DATA_PARAMS                                                                                        \
    {.name = "calibration_data",                                                                                       \
     .type = OLIVE_PARAM_STRING,                                                                                       \
     .default_value = "",                                                                                              \
     .min = 0,                                                                                                         \
     .max = -1,                                                                                                        \
     .choices = NULL,                                                                                                  \
     .help = "Folder of <input name>.npy files whose first axis counts the calibration samples",                       \
     .data_folder = 1},                                                                                                \
        {.name = "calibration_batch_size",                                                                             \
         .type = OLIVE_PARAM_INT,                                                                                      \
         .default_value = "1",                                                                                         \
         .min = 1,                                                                                                     \
         .max = 1e9,                                                                                                   \
         .choices = NULL,                                                                                              \
         .help = "Samples per calibration run"},

#endif
