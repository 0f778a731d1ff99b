/* Helpers shared by the evaluators of fold_*.c; see fold.h for what they compute. */
#ifndef OLIVE_PASSES_PEEPHOLE_FOLD_INTERNAL_H
#define OLIVE_PASSES_PEEPHOLE_FOLD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "ir/ir.h"

/* The signature of every evaluator. */
typedef int (*fold_fn)(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);

/* Sets the error "node 'NAME' (OP): <message>" and returns `code`. */
int fold_fail(const oir_node *n, int code, const char *fmt, ...) OLIVE_PRINTF(3, 4);

/* Input `i` of the node, or an OLIVE_EFORMAT error when it is missing. */
int fold_input(const oir_node *n, const oir_tensor *const *in, size_t i, const oir_tensor **out);

/* The tensor's bytes and element count, checked against its dtype and shape. Fails with
 * OLIVE_EUNSUPPORTED for STRING and sub-byte types. */
int fold_data(const oir_node *n, const oir_tensor *t, const uint8_t **data, uint64_t *numel);

/* Bytes per element for byte-sized fixed types, 0 otherwise. */
size_t fold_elem_size(int32_t dtype);

/* The values of an int32/int64 tensor of rank 0 or 1 (freed by the caller). */
int fold_read_ints(const oir_node *n, const oir_tensor *t, int64_t **out, size_t *count);

/* Axes from the "axes" attribute (older opsets) or from input `input_index` (newer ones).
 * *present is 0 when neither gives axes; *axes is then NULL. */
int fold_axes(const oir_node *n, const oir_tensor *const *in, size_t input_index, int64_t **axes, size_t *count,
              int *present);

/* `axis` in [-rank, rank) mapped to [0, rank). */
int fold_normalize_axis(const oir_node *n, int64_t axis, size_t rank, size_t *out);

/* A new output tensor (named after the node's first output) with zeroed bytes of its own,
 * refused with OLIVE_EUNSUPPORTED when larger than max_bytes. *data may be NULL when empty. */
int fold_output(const oir_node *n, int32_t dtype, size_t rank, const int64_t *dims, uint64_t max_bytes,
                oir_tensor **out, uint8_t **data);

/* A new output tensor with `src`'s dtype and bytes (shared, not copied) and a new shape of
 * the same element count; refused like fold_output when larger than max_bytes. */
int fold_view(const oir_node *n, const oir_tensor *src, size_t rank, const int64_t *dims, uint64_t max_bytes,
              oir_tensor **out);

int fold_shape(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_reshape(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_squeeze(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_unsqueeze(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_gather(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_concat(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_transpose(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_binary(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_cast(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);
int fold_range(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out);

#endif
