#include "onnx/onnx_wire.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

int wire_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        uint8_t b;
        if (q >= end)
            return -1;
        b = *q++;
        if (shift == 63 && (b & 0x7e))
            return -1; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
    }
    return -1;
}

size_t wire_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

uint8_t *wire_put_varint(uint8_t *out, uint64_t v)
{
    while (v >= 0x80) {
        *out++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *out++ = (uint8_t)v;
    return out;
}

int wire_next(const uint8_t **p, const uint8_t *end, wire_field *f)
{
    const uint8_t *q = *p;
    uint64_t tag, n;
    if (q >= end)
        return 0;
    f->start = q;
    if (wire_read_varint(&q, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return -1;
    f->number = (uint32_t)(tag >> 3);
    f->wire_type = (int)(tag & 7);
    f->varint = 0;
    switch (f->wire_type) {
    case WIRE_VARINT:
        f->value = q;
        if (wire_read_varint(&q, end, &f->varint))
            return -1;
        f->len = (size_t)(q - f->value);
        break;
    case WIRE_FIXED64:
    case WIRE_FIXED32:
        f->len = f->wire_type == WIRE_FIXED64 ? 8 : 4;
        if ((size_t)(end - q) < f->len)
            return -1;
        f->value = q;
        q += f->len;
        break;
    case WIRE_LEN:
        if (wire_read_varint(&q, end, &n) || n > (uint64_t)(end - q))
            return -1;
        f->value = q;
        f->len = (size_t)n;
        q += n;
        break;
    default: /* groups are not used by ONNX and protobuf-c does not read them */ return -1;
    }
    f->end = q;
    *p = q;
    return 1;
}

/* Recursion is bounded by max_depth, so a hostile file cannot exhaust the stack here. */
static int check_depth(const uint8_t *base, const uint8_t *p, const uint8_t *end,
                       const ProtobufCMessageDescriptor *desc, int depth, int max_depth, const char *what)
{
    wire_field f;
    int r;
    if (depth > max_depth)
        return olive_fail(OLIVE_EFORMAT, "%s: messages are nested deeper than %d levels", what, max_depth);
    while ((r = wire_next(&p, end, &f)) > 0) {
        const ProtobufCFieldDescriptor *fd;
        if (f.wire_type != WIRE_LEN)
            continue;
        fd = protobuf_c_message_descriptor_get_field(desc, f.number);
        if (fd && fd->type == PROTOBUF_C_TYPE_STRING && f.len > WIRE_MAX_STRING)
            return olive_fail(OLIVE_EFORMAT,
                              "%s: text field %s.%s at byte %zu is %zu bytes long, more than the %u "
                              "accepted",
                              what, desc->name, fd->name, (size_t)(f.start - base), f.len, WIRE_MAX_STRING);
        if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE)
            OLIVE_TRY(check_depth(base, f.value, f.value + f.len, fd->descriptor, depth + 1, max_depth, what));
    }
    if (r < 0)
        return olive_fail(OLIVE_EFORMAT,
                          "%s: malformed protobuf data (truncated or corrupt file) at byte %zu, "
                          "in a %s message",
                          what, (size_t)(p - base), desc->name);
    return OLIVE_OK;
}

int wire_check_depth(const uint8_t *data, size_t size, const ProtobufCMessageDescriptor *desc, int max_depth,
                     const char *what)
{
    return check_depth(data, data, data + size, desc, 1, max_depth, what);
}

static int append(uint8_t **buf, size_t *len, size_t extra, uint8_t **at)
{
    uint8_t *nb;
    if (extra > SIZE_MAX - *len - 1)
        return olive_fail(OLIVE_ENOMEM, "serialized field too large");
    nb = realloc(*buf, *len + extra + 1);
    if (!nb)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    *buf = nb;
    *at = nb + *len;
    *len += extra;
    nb[*len] = 0;
    return OLIVE_OK;
}

int wire_append_unknown(uint8_t **buf, size_t *len, const ProtobufCMessage *msg)
{
    for (unsigned i = 0; i < msg->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &msg->unknown_fields[i];
        uint64_t tag = ((uint64_t)u->tag << 3) | (uint64_t)u->wire_type;
        uint8_t *at;
        OLIVE_TRY(append(buf, len, wire_varint_size(tag) + u->len, &at));
        at = wire_put_varint(at, tag);
        if (u->len)
            memcpy(at, u->data, u->len);
    }
    return OLIVE_OK;
}

int wire_append_message(uint8_t **buf, size_t *len, uint32_t number, const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint64_t tag = ((uint64_t)number << 3) | WIRE_LEN;
    uint8_t *at;
    OLIVE_TRY(append(buf, len, wire_varint_size(tag) + wire_varint_size(size) + size, &at));
    at = wire_put_varint(at, tag);
    at = wire_put_varint(at, size);
    protobuf_c_message_pack(msg, at);
    return OLIVE_OK;
}

long wire_count_fields(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    wire_field f;
    long n = 0;
    int r;
    while ((r = wire_next(&p, end, &f)) > 0)
        n++;
    return r < 0 ? -1 : n;
}

int wire_to_unknown(ProtobufCMessageUnknownField *out, size_t count, const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    wire_field f;
    size_t i = 0;
    int r;
    while ((r = wire_next(&p, end, &f)) > 0) {
        const uint8_t *after_tag = f.start;
        uint64_t tag;
        if (i >= count)
            return -1;
        wire_read_varint(&after_tag, end, &tag);
        out[i].tag = f.number;
        out[i].wire_type = (ProtobufCWireType)f.wire_type;
        out[i].data = (uint8_t *)after_tag; /* protobuf-c only reads it while packing */
        out[i].len = (size_t)(f.end - after_tag);
        i++;
    }
    return r < 0 || i != count ? -1 : 0;
}
