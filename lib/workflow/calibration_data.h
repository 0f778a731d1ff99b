/* A pass's Olive `data_config` made into the calibration folder the calibrated passes read
 * (lib/passes/calibrate/calib_data.h): the data config's batches, built as evaluation builds
 * them (data/dataset.h), concatenated along the first axis into one <input name>.npy per
 * input, in a private temporary folder that the caller removes. */
#ifndef OLIVE_WORKFLOW_CALIBRATION_DATA_H
#define OLIVE_WORKFLOW_CALIBRATION_DATA_H

#include <jansson.h>

/* Writes the folder for `config` and returns its path in *dir (free(), then olive_rmtree).
 * `where` names the pass entry in messages. Errors: those of wf_dataset_build, OLIVE_EINVALID
 * (no batches, or batches whose shapes differ past the first axis), OLIVE_EIO, OLIVE_ENOMEM. */
int wf_calibration_folder(char **dir, const json_t *config, const char *where);

#endif
