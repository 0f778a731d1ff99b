/* The subset of Python's pickle format that torch.save writes for a state dict (data.pkl in a
 * PyTorch zip checkpoint). It is a data reader, not an interpreter: GLOBAL may only name
 * collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter
 * and the torch.*Storage types; anything else is refused, and nothing is ever executed. */
#ifndef OLIVE_FORMATS_PICKLE_H
#define OLIVE_FORMATS_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/checkpoint.h"

/* One tensor of the state dict, as _rebuild_tensor_v2 describes it. */
typedef struct ofmt_pickle_tensor {
    char *name;              /* state-dict key */
    char *storage_key;       /* the storage's record name: "<archive>/data/<key>" holds it */
    int32_t dtype;           /* ONNX dtype of the storage type (FloatStorage: OIR_FLOAT, ...) */
    uint64_t storage_numel;  /* elements in the storage, as the pickle says */
    uint64_t storage_offset; /* first element of the tensor in its storage */
    size_t rank;
    int64_t dims[OFMT_MAX_RANK];
    int64_t strides[OFMT_MAX_RANK];
} ofmt_pickle_tensor;

/* Parses a pickled state dict (a dict or OrderedDict of name -> tensor). `file` names the
 * stream in messages. Errors: OLIVE_EFORMAT (truncated stream, unknown opcode, a global not
 * on the allow-list, a value that is not a tensor, ...), OLIVE_ENOMEM. */
int ofmt_pickle_state_dict(ofmt_pickle_tensor **out, size_t *n_out, const uint8_t *data, size_t size, const char *file);
void ofmt_pickle_tensors_free(ofmt_pickle_tensor *t, size_t n);

#endif
