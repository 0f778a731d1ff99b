#include "onnx/onnx_strip.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "onnx/onnx_wire.h"

/* Field numbers in onnx.proto. */
#define MODEL_GRAPH 7
#define GRAPH_NODE 1
#define GRAPH_INITIALIZER 5
#define TENSOR_RAW_DATA 9

static size_t tag_size(const wire_field *f)
{
    const uint8_t *p = f->start;
    uint64_t tag;
    wire_read_varint(&p, f->end, &tag);
    return (size_t)(p - f->start);
}

/* Bytes the raw_data fields of one TensorProto take, recording where the last one (the one
 * protobuf keeps) lies. */
static size_t scan_tensor(const uint8_t *base, const wire_field *tf, onnx_raw_range *range)
{
    const uint8_t *p = tf->value, *end = tf->value + tf->len;
    wire_field f;
    size_t removed = 0;
    while (wire_next(&p, end, &f) > 0) {
        if (f.number != TENSOR_RAW_DATA || f.wire_type != WIRE_LEN)
            continue;
        range->present = 1;
        range->offset = (uint64_t)(f.value - base);
        range->len = f.len;
        removed += (size_t)(f.end - f.start);
    }
    return removed;
}

static uint8_t *put(uint8_t *out, const uint8_t *from, const uint8_t *to)
{
    size_t n = (size_t)(to - from);
    if (n)
        memcpy(out, from, n);
    return out + n;
}

static int is_node(const wire_field *f)
{
    return f->number == GRAPH_NODE && f->wire_type == WIRE_LEN;
}
static int is_init(const wire_field *f)
{
    return f->number == GRAPH_INITIALIZER && f->wire_type == WIRE_LEN;
}

int onnx_strip_raw_data(onnx_stripped *out, const uint8_t *data, size_t size, const char *what)
{
    const uint8_t *p = data, *end = data + size, *gp, *gend;
    wire_field f, graph = {0};
    size_t n_graphs = 0, n_init = 0, n_node = 0, i, k, new_graph_len, new_size;
    size_t *removed = NULL;
    onnx_raw_range *ranges = NULL, *nodes = NULL;
    uint8_t *buf, *w;
    int any = 0;

    memset(out, 0, sizeof *out);
    while (wire_next(&p, end, &f) > 0)
        if (f.number == MODEL_GRAPH && f.wire_type == WIRE_LEN) {
            graph = f;
            n_graphs++;
        }
    if (n_graphs != 1)
        return OLIVE_OK; /* protobuf would merge several graph fields: leave that to protobuf-c */

    gp = graph.value;
    gend = graph.value + graph.len;
    while (wire_next(&gp, gend, &f) > 0) {
        n_init += (size_t)is_init(&f);
        n_node += (size_t)is_node(&f);
    }
    if (!n_init && !n_node)
        return OLIVE_OK;
    ranges = olive_calloc(n_init ? n_init : 1, sizeof *ranges);
    removed = olive_calloc(n_init ? n_init : 1, sizeof *removed);
    nodes = olive_calloc(n_node ? n_node : 1, sizeof *nodes);
    if (!ranges || !removed || !nodes) {
        free(ranges);
        free(removed);
        free(nodes);
        return OLIVE_ENOMEM;
    }

    new_graph_len = graph.len;
    gp = graph.value;
    i = k = 0;
    while (wire_next(&gp, gend, &f) > 0) {
        size_t new_len;
        if (is_node(&f)) {
            nodes[k].present = 1;
            nodes[k].offset = (uint64_t)(f.value - data);
            nodes[k].len = f.len;
            k++;
            new_graph_len -= (size_t)(f.end - f.start);
            any = 1;
            continue;
        }
        if (!is_init(&f))
            continue;
        removed[i] = scan_tensor(data, &f, &ranges[i]);
        if (removed[i]) {
            any = 1;
            new_len = f.len - removed[i];
            new_graph_len -= (size_t)(f.end - f.start) - (tag_size(&f) + wire_varint_size(new_len) + new_len);
        }
        i++;
    }
    if (!any) {
        free(removed);
        free(nodes);
        out->ranges = ranges;
        out->n_ranges = n_init;
        return OLIVE_OK;
    }

    new_size = size - (size_t)(graph.end - graph.start) + tag_size(&graph) + wire_varint_size(new_graph_len) +
               new_graph_len;
    buf = olive_malloc(new_size ? new_size : 1);
    if (!buf) {
        free(ranges);
        free(removed);
        free(nodes);
        return OLIVE_ENOMEM;
    }
    w = put(buf, data, graph.start + tag_size(&graph));
    w = wire_put_varint(w, new_graph_len);
    gp = graph.value;
    i = 0;
    while (wire_next(&gp, gend, &f) > 0) {
        const uint8_t *tp, *tend;
        wire_field tf;
        if (is_node(&f))
            continue;
        if (!is_init(&f) || !removed[i]) {
            if (is_init(&f))
                i++;
            w = put(w, f.start, f.end);
            continue;
        }
        w = put(w, f.start, f.start + tag_size(&f));
        w = wire_put_varint(w, f.len - removed[i]);
        tp = f.value;
        tend = f.value + f.len;
        while (wire_next(&tp, tend, &tf) > 0)
            if (tf.number != TENSOR_RAW_DATA || tf.wire_type != WIRE_LEN)
                w = put(w, tf.start, tf.end);
        i++;
    }
    w = put(w, graph.end, end);
    free(removed);
    if ((size_t)(w - buf) != new_size) {
        size_t got = (size_t)(w - buf);
        free(buf);
        free(ranges);
        free(nodes);
        return olive_fail(OLIVE_EINTERNAL, "%s: stripped model has %zu bytes, %zu expected", what, got, new_size);
    }
    out->data = buf;
    out->size = new_size;
    out->ranges = ranges;
    out->n_ranges = n_init;
    out->nodes = nodes;
    out->n_nodes = n_node;
    return OLIVE_OK;
}

void onnx_stripped_free(onnx_stripped *s)
{
    free(s->data);
    free(s->ranges);
    free(s->nodes);
    memset(s, 0, sizeof *s);
}
