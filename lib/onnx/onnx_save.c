/* Saving a model: decide which initializers go to the data file, stream their bytes there
 * (file-to-file copies for mapped weights), then stream the packed model through a small
 * buffer. Both files are written under temporary names and renamed at the end. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/mapguard.h"
#include "core/status.h"
#include "onnx/onnx_io.h"
#include "onnx/onnx_to_proto.h"
#include "onnx/onnx_wire.h"

#define PROTOBUF_LIMIT ((uint64_t)INT32_MAX) /* protobuf parsers refuse messages of 2 GiB or more */

/* A ProtobufCBuffer that writes to an output file in chunks. Large appends (tensor bytes)
 * go straight to the file, and their pages are dropped when they come from a mapped file. */
typedef struct file_sink {
    ProtobufCBuffer base;
    olive_outfile *file;
    const oir_model *model;
    int rc;
    size_t used;
    uint8_t buf[1 << 16];
} file_sink;

static int sink_flush(file_sink *s)
{
    if (s->rc == OLIVE_OK && s->used)
        s->rc = olive_outfile_write(s->file, s->buf, s->used);
    s->used = 0;
    return s->rc;
}

/* The mapped source file that holds `data`, or NULL. */
static const olive_blob *mapped_source(const oir_model *m, const uint8_t *data)
{
    for (size_t i = 0; i < m->n_sources; i++) {
        const olive_blob *b = m->sources[i];
        if (b->fd >= 0 && data >= b->data && data < b->data + b->size)
            return b;
    }
    return NULL;
}

static void sink_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
    file_sink *s = (file_sink *)buffer;
    const olive_blob *src;
    if (s->rc != OLIVE_OK || !len)
        return;
    if (len >= sizeof s->buf) {
        if (sink_flush(s) != OLIVE_OK)
            return;
        /* Embedded weights from a mapped file: copied file to file, never paged in here. */
        src = mapped_source(s->model, data);
        if (src && (size_t)(data - src->data) + len <= src->size)
            s->rc = olive_outfile_copy_from_fd(s->file, src->fd, (uint64_t)(data - src->data), len);
        else
            s->rc = olive_outfile_write(s->file, data, len);
        return;
    }
    if (len > sizeof s->buf - s->used && sink_flush(s) != OLIVE_OK)
        return;
    memcpy(s->buf + s->used, data, len);
    s->used += len;
}

/* ---- the plan: which initializers go external, and where ---- */

typedef struct save_plan {
    onnx_ext_slot *slots;
    uint64_t data_size; /* bytes of the data file */
    uint64_t total;     /* bytes of all main-graph initializer data */
    size_t n_external;
} save_plan;

static int goes_external(const onnx_save_options *o, const oir_tensor *t)
{
    if (t->dtype == OIR_STRING || !t->nbytes || !t->blob)
        return 0;
    switch (o->external) {
    case ONNX_EXTERNAL_ALWAYS: return 1;
    case ONNX_EXTERNAL_NEVER: return 0;
    default: return t->nbytes >= o->size_threshold;
    }
}

static int make_plan(save_plan *p, const oir_graph *g, const onnx_save_options *o)
{
    uint64_t at = 0;
    memset(p, 0, sizeof *p);
    if (g->n_initializers && !(p->slots = olive_calloc(g->n_initializers, sizeof *p->slots)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_initializers; i++) {
        const oir_tensor *t = g->initializers[i];
        p->total += t->nbytes;
        if (!goes_external(o, t))
            continue;
        if (at % o->align)
            at += o->align - at % o->align;
        p->slots[i].external = 1;
        p->slots[i].offset = at;
        if (at > UINT64_MAX - t->nbytes) {
            free(p->slots);
            return olive_fail(OLIVE_ENOMEM, "external data of the model overflows");
        }
        at += t->nbytes;
        p->n_external++;
    }
    p->data_size = at;
    return OLIVE_OK;
}

static int report(const onnx_save_options *o, uint64_t done, uint64_t total)
{
    if (o->progress && o->progress(done, total, o->user))
        return olive_fail(OLIVE_ECANCELLED, "saving the model was cancelled");
    return OLIVE_OK;
}

static int write_data_file(olive_outfile *f, const oir_graph *g, const save_plan *p, const onnx_save_options *o,
                           uint64_t *done)
{
    for (size_t i = 0; i < g->n_initializers; i++) {
        const oir_tensor *t = g->initializers[i];
        if (!p->slots[i].external)
            continue;
        OLIVE_TRY(olive_outfile_pad(f, p->slots[i].offset - f->written));
        if (t->blob->fd >= 0) {
            /* The kernel copies file to file; the weights never enter this process. */
            OLIVE_TRY(olive_outfile_copy_from_fd(f, t->blob->fd, t->offset, t->nbytes));
        } else {
            OLIVE_TRY(olive_outfile_write(f, oir_tensor_data(t), (size_t)t->nbytes));
            olive_blob_drop_pages(t->blob, t->offset, t->nbytes);
        }
        olive_outfile_start_writeback(f);
        *done += t->nbytes;
        OLIVE_TRY(report(o, *done, p->total));
    }
    return OLIVE_OK;
}

/* The main graph's nodes are packed one at a time, each from a message built and released on
 * its own, so that a graph of millions of nodes is never held as messages beside the IR. */
#define TAG_MODEL_GRAPH 0x3a /* field 7, length-delimited */
#define TAG_GRAPH_NODE 0x0a  /* field 1, length-delimited */

static void sink_bytes(file_sink *s, const uint8_t *data, size_t len)
{
    sink_append(&s->base, len, data);
}

static void sink_field_header(file_sink *s, uint8_t tag, uint64_t len)
{
    uint8_t head[11], *end = wire_put_varint(head + 1, len);
    head[0] = tag;
    sink_bytes(s, head, (size_t)(end - head));
}

/* Bytes the main graph's node fields take (tags and lengths included). */
static int nodes_size(const oir_graph *g, onnx_proto_build *nb, uint64_t *total)
{
    *total = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        Onnx__NodeProto *np;
        size_t n;
        OLIVE_TRY(onnx_node_to_proto(nb, g->nodes[i], &np));
        n = protobuf_c_message_get_packed_size(&np->base);
        *total += 1 + wire_varint_size(n) + n;
        onnx_proto_build_reset(nb);
    }
    return OLIVE_OK;
}

/* The model file's size: `mp` (its graph without nodes) with `node_bytes` of nodes added to
 * the graph field. */
static uint64_t model_size(const Onnx__ModelProto *mp, uint64_t node_bytes)
{
    uint64_t graph = protobuf_c_message_get_packed_size(&mp->graph->base);
    uint64_t whole = protobuf_c_message_get_packed_size(&mp->base);
    return whole - (1 + wire_varint_size(graph) + graph) +
           (1 + wire_varint_size(graph + node_bytes) + graph + node_bytes);
}

/* The model's fields before the graph (numbers 1-6), the graph field (its nodes first, as
 * protobuf-c orders fields by number), then the fields after it. */
static int write_model_file(olive_outfile *f, const oir_model *m, Onnx__ModelProto *mp, uint64_t node_bytes,
                            onnx_proto_build *nb)
{
    Onnx__GraphProto *gp = mp->graph;
    file_sink *s = olive_malloc(sizeof *s);
    uint8_t *rest = NULL, *split;
    const uint8_t *p, *end;
    size_t rest_len;
    wire_field fld;
    int rc;
    if (!s)
        return OLIVE_ENOMEM;
    mp->graph = NULL;
    rest_len = protobuf_c_message_get_packed_size(&mp->base);
    if (!(rest = olive_malloc(rest_len ? rest_len : 1))) {
        mp->graph = gp;
        free(s);
        return OLIVE_ENOMEM;
    }
    protobuf_c_message_pack(&mp->base, rest);
    mp->graph = gp;
    p = rest;
    end = rest + rest_len;
    split = (uint8_t *)end;
    while (wire_next(&p, end, &fld) > 0)
        if (fld.number > 7) {
            split = (uint8_t *)fld.start;
            break;
        }
    s->base.append = sink_append;
    s->file = f;
    s->model = m;
    s->rc = OLIVE_OK;
    s->used = 0;
    sink_bytes(s, rest, (size_t)(split - rest));
    sink_field_header(s, TAG_MODEL_GRAPH, protobuf_c_message_get_packed_size(&gp->base) + node_bytes);
    rc = OLIVE_OK;
    for (size_t i = 0; i < m->graph->n_nodes && rc == OLIVE_OK && s->rc == OLIVE_OK; i++) {
        Onnx__NodeProto *np;
        if ((rc = onnx_node_to_proto(nb, m->graph->nodes[i], &np)) != OLIVE_OK)
            break;
        sink_field_header(s, TAG_GRAPH_NODE, protobuf_c_message_get_packed_size(&np->base));
        protobuf_c_message_pack_to_buffer(&np->base, &s->base);
        onnx_proto_build_reset(nb);
    }
    if (rc == OLIVE_OK) {
        protobuf_c_message_pack_to_buffer(&gp->base, &s->base);
        sink_bytes(s, split, (size_t)(end - split));
        rc = sink_flush(s);
    }
    free(rest);
    free(s);
    return rc;
}

/* Small embedded weights are copied from their mapping: a source file that shrinks while they
 * are read fails the save instead of raising a bus error. A function of its own, so that
 * nothing of the caller's lives across the guard's jump. */
static int write_model_guarded(olive_outfile *f, const oir_model *m, Onnx__ModelProto *mp, uint64_t node_bytes,
                               onnx_proto_build *nb)
{
    int rc;
    OLIVE_MAP_GUARDED(rc, write_model_file(f, m, mp, node_bytes, nb));
    return rc;
}

/* Refuses to replace a file whose bytes the model maps. */
static int check_not_source(const oir_model *m, const char *path)
{
    for (size_t i = 0; i < m->n_sources; i++) {
        const olive_blob *b = m->sources[i];
        if (b->fd >= 0 && olive_path_is_file(path, b->dev, b->ino))
            return olive_fail(OLIVE_EINVALID, "cannot save to '%s': the model reads its data from that file", path);
    }
    return OLIVE_OK;
}

static int check_destination(const char *path, const char *data_name, const oir_model *m)
{
    const char *base = olive_path_basename(path);
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return olive_fail(OLIVE_EINVALID, "cannot save to '%s': not a file name", path);
    if (olive_path_check_inside(data_name, "external data file") != OLIVE_OK)
        return olive_fail(OLIVE_EINVALID, "external data file '%s' must be a relative path inside the model's folder",
                          data_name);
    if (!strcmp(data_name, base))
        return olive_fail(OLIVE_EINVALID, "the external data file '%s' cannot be the model file itself", data_name);
    return check_not_source(m, path);
}

int onnx_save_file(const oir_model *m, const char *path, const onnx_save_options *opts)
{
    onnx_save_options defaults;
    const onnx_save_options *o = opts;
    onnx_proto_build build, node_build;
    Onnx__ModelProto *mp = NULL;
    olive_outfile data_out = {.fd = -1}, model_out = {.fd = -1};
    save_plan plan = {0};
    char *data_name = NULL, *dir = NULL, *data_path = NULL;
    uint64_t packed, done = 0, node_bytes = 0;
    int rc;

    if (!m || !path)
        return olive_fail(OLIVE_EINVALID, "onnx_save_file: NULL argument");
    if (!m->graph)
        return olive_fail(OLIVE_EINVALID, "cannot save '%s': the model has no graph", path);
    if (m->checkpoint_path)
        return olive_fail(OLIVE_EINVALID, "cannot save '%s': model '%s' is a checkpoint: run the convert pass first",
                          path, m->checkpoint_path);
    if (!o) {
        onnx_save_options_init(&defaults);
        o = &defaults;
    }
    if (o->align == 0)
        return olive_fail(OLIVE_EINVALID, "save option align must be at least 1");
    memset(&build, 0, sizeof build);
    memset(&node_build, 0, sizeof node_build);
    data_name = o->data_file ? olive_strdup(o->data_file) : olive_asprintf("%s.data", olive_path_basename(path));
    dir = olive_path_dirname(path);
    if (!data_name || !dir || !(data_path = olive_path_join(dir, data_name))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if ((rc = check_destination(path, data_name, m)) != OLIVE_OK)
        goto done;
    for (size_t i = 0; i < m->n_sources; i++)
        if ((rc = olive_blob_check_size(m->sources[i])) != OLIVE_OK)
            goto done;
    if ((rc = make_plan(&plan, m->graph, o)) != OLIVE_OK)
        goto done;
    if (plan.n_external && (rc = check_not_source(m, data_path)) != OLIVE_OK)
        goto done;

    build.data_location = data_name;
    build.ext = plan.slots;
    build.skip_main_nodes = 1;
    node_build.data_location = data_name;
    if ((rc = onnx_model_to_proto(&build, m, &mp)) != OLIVE_OK ||
        (rc = nodes_size(m->graph, &node_build, &node_bytes)) != OLIVE_OK)
        goto done;
    packed = model_size(mp, node_bytes);
    if (packed > PROTOBUF_LIMIT) {
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "cannot save '%s': the model file would be %" PRIu64 " bytes, over the "
                        "2 GiB protobuf limit (store weights externally: external_data=auto or always, or a lower "
                        "size_threshold)",
                        path, packed);
        goto done;
    }

    if (plan.n_external) {
        if ((rc = olive_outfile_open(&data_out, data_path)) == OLIVE_OK)
            data_out.scratch = o->scratch;
        if (rc != OLIVE_OK || (rc = write_data_file(&data_out, m->graph, &plan, o, &done)) != OLIVE_OK)
            goto done;
    }
    if ((rc = olive_outfile_open(&model_out, path)) != OLIVE_OK)
        goto done;
    model_out.scratch = o->scratch;
    if ((rc = write_model_guarded(&model_out, m, mp, node_bytes, &node_build)) != OLIVE_OK)
        goto done;
    if ((rc = report(o, plan.total, plan.total)) != OLIVE_OK)
        goto done;
    /* Data first: a model file never refers to data that is not in place. */
    if (plan.n_external && (rc = olive_outfile_commit(&data_out)) != OLIVE_OK)
        goto done;
    rc = olive_outfile_commit(&model_out);

done:
    olive_outfile_abort(&data_out);
    olive_outfile_abort(&model_out);
    onnx_proto_build_free(&build);
    onnx_proto_build_free(&node_build);
    free(plan.slots);
    free(data_name);
    free(dir);
    free(data_path);
    return rc;
}
