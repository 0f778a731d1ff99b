/* PyTorch zip checkpoints (pytorch_model.bin written by torch.save since PyTorch 1.6): a zip
 * of uncompressed records, "<archive>/data.pkl" (the pickled state dict) and one
 * "<archive>/data/<key>" record per storage. Tensors point into the mapped zip file. */
#ifndef OLIVE_FORMATS_TORCH_ZIP_H
#define OLIVE_FORMATS_TORCH_ZIP_H

#include "formats/checkpoint.h"

/* Maps `path` and appends the tensors of its state dict to `c`. Only contiguous tensors of
 * uncompressed records are read. Errors: OLIVE_ENOTFOUND, OLIVE_EIO, OLIVE_EFORMAT (bad zip,
 * an entry name escaping its folder, a pickle global not on the allow-list, a storage record
 * missing or too small), OLIVE_EUNSUPPORTED (built without libarchive, the pre-1.6 format, a
 * compressed record, a strided tensor, big-endian data), OLIVE_ENOMEM. */
int ofmt_torch_zip_add_file(ofmt_checkpoint *c, const char *path);

#endif
