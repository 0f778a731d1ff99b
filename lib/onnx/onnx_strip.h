/* Finding the main graph's initializer payloads and nodes in a serialized ModelProto, so that
 * the payloads can stay in the mapped file instead of being copied by protobuf-c's unpack, and
 * the nodes can be unpacked and converted one at a time instead of all at once (a graph of
 * millions of nodes would otherwise be held twice: as protobuf-c messages and as the IR). */
#ifndef OLIVE_ONNX_STRIP_H
#define OLIVE_ONNX_STRIP_H

#include <stddef.h>
#include <stdint.h>

/* Where the raw_data of one main-graph initializer lies in the model buffer. */
typedef struct onnx_raw_range {
    int present;
    uint64_t offset;
    uint64_t len;
} onnx_raw_range;

/* Result of onnx_strip_raw_data: `data` is a copy of the model buffer without the raw_data
 * fields of the main graph's initializers and without its node fields (enclosing lengths
 * fixed); ranges[i] tells where initializer i's raw_data was, nodes[i] where node i's
 * serialized NodeProto lies. `data` is NULL when nothing was stripped (no node and no
 * initializer with raw_data, or the model has several graph fields); the caller then unpacks
 * the original buffer, and `nodes` is NULL. */
typedef struct onnx_stripped {
    uint8_t *data;
    size_t size;
    onnx_raw_range *ranges;
    size_t n_ranges;
    onnx_raw_range *nodes;
    size_t n_nodes;
} onnx_stripped;

/* The buffer must already have passed wire_check_depth. Errors: OLIVE_EFORMAT, OLIVE_ENOMEM. */
int onnx_strip_raw_data(onnx_stripped *out, const uint8_t *data, size_t size, const char *what);
void onnx_stripped_free(onnx_stripped *s);

#endif
