/* Protobuf wire-format primitives used around protobuf-c: reading fields without unpacking,
 * measuring nesting depth before protobuf-c recurses, and converting between serialized
 * fields and protobuf-c's unknown-field records (the IR's passthrough bytes). */
#ifndef OLIVE_ONNX_WIRE_H
#define OLIVE_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

/* One field as it lies in the buffer. */
typedef struct wire_field {
    uint32_t number;
    int wire_type;
    const uint8_t *start; /* first byte of the tag */
    const uint8_t *value; /* first byte after the tag (for WIRE_LEN: after the length) */
    size_t len;           /* WIRE_LEN: payload length; otherwise bytes of the value */
    const uint8_t *end;   /* one past the field */
    uint64_t varint;      /* WIRE_VARINT: the value */
} wire_field;

/* Reads a varint at *p (advancing it). Returns 0, or -1 when malformed or past `end`. */
int wire_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);
/* Bytes a varint of value v takes. */
size_t wire_varint_size(uint64_t v);
/* Writes v as a varint at out; returns the byte after it. */
uint8_t *wire_put_varint(uint8_t *out, uint64_t v);

/* Reads the field at *p (advancing *p past it). Returns 1 for a field, 0 at `end`, -1 for a
 * malformed field (bad tag, unsupported wire type, length past `end`). */
int wire_next(const uint8_t **p, const uint8_t *end, wire_field *f);

/* Checks that `size` bytes are well-formed wire data for `desc` with message nesting of at
 * most `max_depth` levels (the top message counts as one), and that no text field (names,
 * doc strings, domains, metadata: protobuf strings, not bytes) is longer than
 * WIRE_MAX_STRING bytes: protobuf-c and the IR each copy a string, so one huge field would
 * cost three times its size in memory. Fields unknown to the descriptor are not entered.
 * Returns OLIVE_OK or OLIVE_EFORMAT naming `what` (and the field at fault). */
#define WIRE_MAX_STRING (16u << 20)
int wire_check_depth(const uint8_t *data, size_t size, const ProtobufCMessageDescriptor *desc, int max_depth,
                     const char *what);

/* Appends protobuf-c's unknown fields of `msg` to `*buf` as serialized fields. */
int wire_append_unknown(uint8_t **buf, size_t *len, const ProtobufCMessage *msg);
/* Appends `msg` packed as field `number` (length-delimited) to `*buf`. */
int wire_append_message(uint8_t **buf, size_t *len, uint32_t number, const ProtobufCMessage *msg);

/* Counts the serialized fields in `data` (-1 if malformed). */
long wire_count_fields(const uint8_t *data, size_t size);
/* Fills `out` (room for `count` records, from wire_count_fields) with unknown-field records
 * that point into `data`; protobuf-c then re-emits them when packing. Returns 0 or -1. */
int wire_to_unknown(ProtobufCMessageUnknownField *out, size_t count, const uint8_t *data, size_t size);

#endif
