/* IR -> a shallow protobuf-c ModelProto for packing: strings, arrays and tensor bytes point
 * into the IR (nothing is copied); the message structs themselves live in an arena. */
#ifndef OLIVE_ONNX_TO_PROTO_H
#define OLIVE_ONNX_TO_PROTO_H

#include "ir/ir.h"
#include "onnx.pb-c.h"

/* Where one main-graph initializer goes: embedded, or at `offset` of the data file. */
typedef struct onnx_ext_slot {
    int external;
    uint64_t offset;
} onnx_ext_slot;

typedef struct onnx_arena_chunk onnx_arena_chunk;

typedef struct onnx_proto_build {
    const char *data_location; /* external_data location written for external tensors */
    const onnx_ext_slot *ext;  /* one per main-graph initializer, or NULL: all embedded */
    onnx_arena_chunk *chunks;
    ProtobufCMessage **unpacked; /* attributes kept as serialized bytes, unpacked for packing */
    size_t n_unpacked, cap_unpacked;
    int skip_main_nodes; /* leave the main graph's nodes out (streamed by the writer) */
} onnx_proto_build;

/* Builds the message; valid while `m` and `b` live. Errors: OLIVE_EINVALID (an IR tensor
 * without data), OLIVE_EFORMAT (bad passthrough bytes), OLIVE_ENOMEM. */
int onnx_model_to_proto(onnx_proto_build *b, const oir_model *m, Onnx__ModelProto **out);
void onnx_proto_build_free(onnx_proto_build *b);
/* One node's message (the writer packs the main graph's nodes one at a time). */
int onnx_node_to_proto(onnx_proto_build *b, const oir_node *n, Onnx__NodeProto **out);
/* Forgets every message built so far, keeping one arena chunk for the next. */
void onnx_proto_build_reset(onnx_proto_build *b);

#endif
