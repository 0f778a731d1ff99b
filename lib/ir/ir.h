/* The model IR: an ONNX model as plain C structures that passes read and rewrite.
 *
 * Ownership: a model owns its graph; a graph owns its nodes, tensors and value infos; a node
 * owns its strings and attributes; an attribute owns its tensors and subgraphs. Tensor bytes
 * live in a reference-counted olive_blob (a mapped file, a heap buffer, ...) shared between
 * tensors and between models, so cloning a model never copies weights.
 *
 * Names of values (node inputs/outputs, initializers, graph inputs/outputs) are plain strings;
 * "" in a node input or output means an omitted optional value, as in ONNX.
 * Parts of ONNX that passes never rewrite (functions, training info, sparse initializers,
 * quantization annotations, exotic attribute kinds) are kept as serialized protobuf bytes
 * and written back unchanged. */
#ifndef OLIVE_IR_H
#define OLIVE_IR_H

#include <stddef.h>
#include <stdint.h>

#include "core/blob.h"
#include "core/strmap.h"

/* ONNX TensorProto.DataType values. */
enum {
    OIR_UNDEFINED = 0,
    OIR_FLOAT = 1,
    OIR_UINT8 = 2,
    OIR_INT8 = 3,
    OIR_UINT16 = 4,
    OIR_INT16 = 5,
    OIR_INT32 = 6,
    OIR_INT64 = 7,
    OIR_STRING = 8,
    OIR_BOOL = 9,
    OIR_FLOAT16 = 10,
    OIR_DOUBLE = 11,
    OIR_UINT32 = 12,
    OIR_UINT64 = 13,
    OIR_COMPLEX64 = 14,
    OIR_COMPLEX128 = 15,
    OIR_BFLOAT16 = 16,
    OIR_FLOAT8E4M3FN = 17,
    OIR_FLOAT8E4M3FNUZ = 18,
    OIR_FLOAT8E5M2 = 19,
    OIR_FLOAT8E5M2FNUZ = 20,
    OIR_UINT4 = 21,
    OIR_INT4 = 22,
    OIR_FLOAT4E2M1 = 23,
    OIR_DTYPE_COUNT = 24
};

/* ONNX AttributeProto.AttributeType values. */
enum {
    OIR_ATTR_UNDEFINED = 0,
    OIR_ATTR_FLOAT = 1,
    OIR_ATTR_INT = 2,
    OIR_ATTR_STRING = 3,
    OIR_ATTR_TENSOR = 4,
    OIR_ATTR_GRAPH = 5,
    OIR_ATTR_SPARSE_TENSOR = 11,
    OIR_ATTR_TYPE_PROTO = 13,
    OIR_ATTR_FLOATS = 6,
    OIR_ATTR_INTS = 7,
    OIR_ATTR_STRINGS = 8,
    OIR_ATTR_TENSORS = 9,
    OIR_ATTR_GRAPHS = 10,
    OIR_ATTR_SPARSE_TENSORS = 12,
    OIR_ATTR_TYPE_PROTOS = 14
};

/* Bytes owned by their holder (strings in attributes and STRING tensors may hold NULs).
 * `data` is always followed by one NUL byte not counted in `len`, so text reads as a C string. */
typedef struct oir_bytes {
    uint8_t *data;
    size_t len;
} oir_bytes;

/* A tensor: name, type, shape and little-endian bytes in `blob` at `offset`. STRING tensors
 * keep their elements in `strings` instead. */
typedef struct oir_tensor {
    char *name;
    char *doc_string;
    int32_t dtype;
    size_t rank;
    int64_t *dims;
    olive_blob *blob; /* NULL for an empty tensor or a STRING tensor */
    uint64_t offset;  /* where the bytes start in blob */
    uint64_t nbytes;
    size_t n_strings;
    oir_bytes *strings;
    oir_bytes passthrough; /* serialized TensorProto fields the IR does not model */
} oir_tensor;

/* A dimension of a shape: a number, a symbolic name, or unknown (neither). */
typedef struct oir_dim {
    int has_value;
    int64_t value;
    char *param;
    char *denotation;
} oir_dim;

enum { OIR_TYPE_NONE, OIR_TYPE_TENSOR, OIR_TYPE_SPARSE_TENSOR, OIR_TYPE_SEQUENCE, OIR_TYPE_MAP, OIR_TYPE_OPTIONAL };

/* ONNX TypeProto. */
typedef struct oir_type {
    int kind;
    int32_t elem_type; /* tensor and sparse tensor element type; map key type */
    int has_shape;     /* a tensor type with no shape means "any rank" */
    size_t rank;
    oir_dim *dims;
    struct oir_type *inner; /* sequence / optional element, map value */
    char *denotation;
} oir_type;

/* A graph input, output or value_info entry. */
typedef struct oir_value_info {
    char *name;
    char *doc_string;
    oir_type *type; /* may be NULL */
} oir_value_info;

struct oir_graph;

typedef struct oir_attr {
    char *name;
    char *doc_string;
    char *ref_attr_name; /* set inside functions for attribute references */
    int32_t type;
    float f;
    int64_t i;
    oir_bytes s;
    oir_tensor *t;
    struct oir_graph *g;
    size_t n; /* element count of the list kinds below */
    float *floats;
    int64_t *ints;
    oir_bytes *strings;
    oir_tensor **tensors;
    struct oir_graph **graphs;
    oir_bytes passthrough; /* serialized AttributeProto for sparse tensor / type proto kinds */
} oir_attr;

typedef struct oir_node {
    char *name;
    /* op_type and domain are stored in the node's own allocation (a graph may hold millions of
     * nodes): read-only, never freed or replaced; make a new node for another operator. */
    const char *op_type;
    const char *domain; /* "" for the default ONNX domain */
    char *doc_string;
    size_t n_inputs, n_outputs, n_attrs;
    char **inputs;
    char **outputs;
    oir_attr *attrs;
    size_t cap_attrs;
    oir_bytes passthrough; /* serialized NodeProto fields the IR does not model */
    int mark;              /* scratch for passes; not saved */
} oir_node;

typedef struct oir_graph {
    char *name;
    char *doc_string;
    size_t n_nodes, cap_nodes;
    oir_node **nodes;
    size_t n_initializers, cap_initializers;
    oir_tensor **initializers;
    size_t n_inputs, cap_inputs;
    oir_value_info *inputs;
    size_t n_outputs, cap_outputs;
    oir_value_info *outputs;
    size_t n_value_info, cap_value_info;
    oir_value_info *value_info;
    size_t n_passthrough;
    oir_bytes *passthrough; /* serialized GraphProto fragments (sparse initializers,
                               quantization annotations), merged back when saved */
} oir_graph;

typedef struct oir_opset {
    char *domain;
    int64_t version;
} oir_opset;

typedef struct oir_model {
    int64_t ir_version;
    char *producer_name, *producer_version, *domain, *doc_string;
    int64_t model_version;
    size_t n_opsets, cap_opsets;
    oir_opset *opsets;
    size_t n_metadata, cap_metadata;
    char **metadata_keys;
    char **metadata_values;
    oir_graph *graph;
    oir_bytes passthrough; /* serialized ModelProto fragment (functions, training info) */
    char *path;            /* file the model was loaded from, NULL if built in memory */
    size_t n_sources;      /* files whose bytes the model maps: never overwritten by a save */
    olive_blob **sources;
    /* A model that is still a source checkpoint (Hugging Face folder or GGUF file) that the
     * convert pass turns into a graph: its path; NULL for ONNX models. The graph is empty
     * while this is set. */
    char *checkpoint_path;
    /* Files that belong with the model and are written next to model.onnx when it is saved
     * into a folder (genai_config.json, tokenizer files, config.json, ...). */
    size_t n_companions;
    struct oir_companion *companions;
    /* How to run the model, found by a pass that measures it (OrtSessionParamsTuning): a JSON
     * object as text, Olive's `inference_settings` ({"execution_provider": [...],
     * "session_options": {...}, ...}), owned; NULL when no pass set one. It is not part of the
     * ONNX file: the workflow keeps it in its cache entry's manifest and writes it into
     * model_config.json; clones copy it and later passes keep it. */
    char *inference_settings;
} oir_model;

/* A file saved next to the model: copied from `source_path`, or written from `data`. */
typedef struct oir_companion {
    char *name;        /* plain file name: no '/', not "." or "..", not model.onnx */
    char *source_path; /* copy this file; NULL when `data` is used */
    olive_blob *data;  /* bytes to write; NULL when `source_path` is used */
} oir_companion;

/* ---- dtypes ---- */

/* Name as ONNX spells it ("float", "int64", ...) or "undefined(N)" style "?" for unknown. */
const char *oir_dtype_name(int32_t dtype);
/* Parses a name produced by oir_dtype_name (also "float32", "fp16", "bf16"); 0 if unknown. */
int32_t oir_dtype_from_name(const char *name);
/* Bits per element (4 for int4/uint4/float4, 0 for STRING/undefined/unknown). */
unsigned oir_dtype_bits(int32_t dtype);

/* ---- tensors ---- */

/* Number of elements (1 for a scalar) into *out. OLIVE_EFORMAT if a dim is negative or the
 * product overflows; the message names the tensor. */
int oir_tensor_numel(const oir_tensor *t, uint64_t *out);
/* Bytes the data must have for dtype and dims (4-bit types packed two per byte). */
int oir_tensor_expected_bytes(const oir_tensor *t, uint64_t *out);
/* Pointer to the tensor's bytes (NULL for empty / STRING tensors). */
static inline const uint8_t *oir_tensor_data(const oir_tensor *t)
{
    return t->blob ? t->blob->data + t->offset : NULL;
}

/* New tensor with a name, dtype and shape and no data. */
oir_tensor *oir_tensor_new(const char *name, int32_t dtype, size_t rank, const int64_t *dims);
/* Sets the data to `nbytes` bytes at `offset` of `blob` (takes a new reference). Checks the
 * size against dtype and shape: OLIVE_EFORMAT when it does not match. */
int oir_tensor_set_blob(oir_tensor *t, olive_blob *blob, uint64_t offset, uint64_t nbytes);
/* Copies `nbytes` bytes into a new heap blob and sets it as the data. */
int oir_tensor_set_copy(oir_tensor *t, const void *data, uint64_t nbytes);
/* Deep copy of metadata; shares the data blob. */
oir_tensor *oir_tensor_clone(const oir_tensor *t);
void oir_tensor_free(oir_tensor *t);

/* ---- types ---- */

oir_type *oir_type_new_tensor(int32_t elem_type, size_t rank, const int64_t *dims, const char *const *params);
oir_type *oir_type_clone(const oir_type *t);
void oir_type_free(oir_type *t);
int oir_value_info_copy(oir_value_info *dst, const oir_value_info *src);
void oir_value_info_clear(oir_value_info *vi);

/* ---- attributes ---- */

oir_attr *oir_node_attr(const oir_node *n, const char *name);
/* Value of an INT / FLOAT / STRING attribute, or `fallback` when absent or of another kind. */
int64_t oir_node_attr_int(const oir_node *n, const char *name, int64_t fallback);
float oir_node_attr_float(const oir_node *n, const char *name, float fallback);
const char *oir_node_attr_string(const oir_node *n, const char *name, const char *fallback);
/* Adds or replaces an attribute. The node takes ownership of `t`, `g` (on success only). */
int oir_node_set_attr_int(oir_node *n, const char *name, int64_t v);
int oir_node_set_attr_float(oir_node *n, const char *name, float v);
int oir_node_set_attr_string(oir_node *n, const char *name, const char *v);
int oir_node_set_attr_ints(oir_node *n, const char *name, const int64_t *v, size_t count);
int oir_node_set_attr_floats(oir_node *n, const char *name, const float *v, size_t count);
int oir_node_set_attr_tensor(oir_node *n, const char *name, oir_tensor *t);
int oir_node_set_attr_graph(oir_node *n, const char *name, struct oir_graph *g);
void oir_node_remove_attr(oir_node *n, const char *name);
void oir_attr_clear(oir_attr *a);
int oir_attr_copy(oir_attr *dst, const oir_attr *src);

/* ---- nodes ---- */

/* New node; inputs/outputs are copied (NULL entries become ""). */
oir_node *oir_node_new(const char *op_type, const char *domain, const char *name, size_t n_inputs,
                       const char *const *inputs, size_t n_outputs, const char *const *outputs);
oir_node *oir_node_clone(const oir_node *n);
/* A copy of `n` (name, inputs, outputs, attributes) as another operator: op_type and domain
 * are fixed when a node is made, so a rewrite that changes them replaces the node with this. */
oir_node *oir_node_clone_as(const oir_node *n, const char *op_type, const char *domain);
void oir_node_free(oir_node *n);
int oir_node_set_input(oir_node *n, size_t index, const char *value);
int oir_node_set_output(oir_node *n, size_t index, const char *value);

/* ---- graphs ---- */

oir_graph *oir_graph_new(const char *name);
oir_graph *oir_graph_clone(const oir_graph *g);
void oir_graph_free(oir_graph *g);

/* Appends; the graph takes ownership on success. */
int oir_graph_add_node(oir_graph *g, oir_node *n);
int oir_graph_insert_node(oir_graph *g, size_t index, oir_node *n);
/* Removes and frees node `index`, keeping order. */
void oir_graph_remove_node(oir_graph *g, size_t index);
/* Removes (and frees) every node whose `mark` is non-zero, in one sweep. */
void oir_graph_remove_marked_nodes(oir_graph *g);
/* Replaces node `index` with `n` (the old node is freed). */
void oir_graph_replace_node(oir_graph *g, size_t index, oir_node *n);

int oir_graph_add_initializer(oir_graph *g, oir_tensor *t);
oir_tensor *oir_graph_initializer(const oir_graph *g, const char *name);
/* Index of the initializer, or -1. */
long oir_graph_initializer_index(const oir_graph *g, const char *name);
void oir_graph_remove_initializer(oir_graph *g, size_t index);

/* Graph inputs / outputs / value_info; `type` is copied (may be NULL). */
int oir_graph_add_input(oir_graph *g, const char *name, const oir_type *type);
int oir_graph_add_output(oir_graph *g, const char *name, const oir_type *type);
int oir_graph_add_value_info(oir_graph *g, const char *name, const oir_type *type);
long oir_graph_input_index(const oir_graph *g, const char *name);
long oir_graph_output_index(const oir_graph *g, const char *name);
void oir_graph_remove_input(oir_graph *g, size_t index);
void oir_graph_remove_output(oir_graph *g, size_t index);
void oir_graph_remove_value_info(oir_graph *g, size_t index);

/* Renames value `from` to `to` everywhere in the graph: node inputs and outputs, graph
 * inputs, outputs, value_info and initializers, and inputs of nested subgraphs that read it
 * from this scope. */
int oir_graph_rename_value(oir_graph *g, const char *from, const char *to);
/* Replaces every use of `from` as a node input with `to`, also inside subgraphs that read it
 * from this scope (and their outputs). This graph's own outputs and the producers are
 * untouched, so the graph's interface keeps its names. */
int oir_graph_replace_uses(oir_graph *g, const char *from, const char *to);

/* A name not yet used by any value, node or initializer of the graph: "<base>" or
 * "<base>_N". Owned by the caller. */
char *oir_graph_unique_name(const oir_graph *g, const char *base);

/* ---- analysis ---- */

/* Index of value producers and consumers, built once and used read-only. Rebuild it after
 * mutating the graph. Consumers include nodes whose subgraphs read the value implicitly. */
typedef struct oir_use_list {
    size_t n, cap;
    oir_node **nodes;
} oir_use_list;

typedef struct oir_graph_index {
    olive_strmap producers; /* value -> oir_node* */
    olive_strmap consumers; /* value -> oir_use_list* (one entry per use) */
    olive_strmap inits;     /* name -> oir_tensor* */
    olive_strmap outputs;   /* graph output names -> (void*)1 */
    olive_strmap inputs;    /* graph input names -> (void*)1 */
} oir_graph_index;

int oir_graph_index_build(oir_graph_index *ix, const oir_graph *g);
void oir_graph_index_free(oir_graph_index *ix);
oir_node *oir_index_producer(const oir_graph_index *ix, const char *value);
oir_tensor *oir_index_initializer(const oir_graph_index *ix, const char *name);
/* Number of node inputs (including nested subgraphs' implicit reads) plus graph outputs
 * that use `value`. */
size_t oir_index_use_count(const oir_graph_index *ix, const char *value);
/* The i-th consumer node of `value` (NULL past the end); graph outputs are not nodes. */
oir_node *oir_index_consumer(const oir_graph_index *ix, const char *value, size_t i);
/* 1 if `value` is a graph output. */
int oir_index_is_graph_output(const oir_graph_index *ix, const char *value);

/* Adds to `names` (name -> (void*)1) every value that node `n`'s subgraphs read from outer
 * scopes (used but not defined inside them). Keys point into the node. */
int oir_node_implicit_inputs(const oir_node *n, olive_strmap *names);

/* Reorders nodes so that each node comes after the producers of its inputs (explicit and
 * implicit). Values not produced in the graph (initializers, graph inputs, outer scopes) count
 * as available. Errors: OLIVE_EFORMAT naming a node on a cycle. */
int oir_graph_toposort(oir_graph *g);
/* The same order as onnx_ir's Graph.sort (Kahn's algorithm from the sinks, the latest ready
 * node first, reversed): also unchanged for a sorted graph, but another order for an unsorted
 * one. For passes that write what onnx_ir-based tools write. Errors as oir_graph_toposort. */
int oir_graph_toposort_from_sinks(oir_graph *g);

/* Validates the graph (recursively into subgraphs) and the model's opset imports: no
 * dangling input, no value produced twice, no cycle, every node domain imported.
 * Errors: OLIVE_EFORMAT with a message naming the node and value. */
int oir_model_validate(const oir_model *m);

/* ---- models ---- */

oir_model *oir_model_new(void);
/* Deep copy of the structure; tensor data is shared. */
oir_model *oir_model_clone(const oir_model *m);
void oir_model_free(oir_model *m);
/* Version for a domain ("" and "ai.onnx" are the same), or -1. */
int64_t oir_model_opset(const oir_model *m, const char *domain);
/* Adds an import, or raises an existing one to at least `version`. */
int oir_model_require_opset(oir_model *m, const char *domain, int64_t version);
/* Records that the model maps bytes of `blob`'s file (takes a reference). */
int oir_model_add_source(oir_model *m, olive_blob *blob);

/* Companion files (companion.c). Adding a name that exists replaces the earlier entry.
 * Errors: OLIVE_EINVALID for a name that is not a plain file name, OLIVE_ENOMEM. */
int oir_model_add_companion_file(oir_model *m, const char *name, const char *source_path);
int oir_model_add_companion_text(oir_model *m, const char *name, const char *text);
int oir_model_add_companion_blob(oir_model *m, const char *name, olive_blob *data);
/* The companion of that name, or NULL. */
const oir_companion *oir_model_companion(const oir_model *m, const char *name);
/* Writes every companion into folder `dir` (atomically per file). Errors: OLIVE_EIO naming
 * the file, OLIVE_ENOTFOUND for a source that vanished. */
int oir_model_write_companions(const oir_model *m, const char *dir);
/* Frees the companion list (used by oir_model_free). */
void oir_model_clear_companions(oir_model *m);
/* Copies src's companions and checkpoint path into dst (used by oir_model_clone). */
int oir_model_copy_companions(oir_model *dst, const oir_model *src);

/* Parameter statistics over every initializer (also in subgraphs). */
typedef struct oir_param_stats {
    uint64_t count;    /* initializers */
    uint64_t elements; /* parameters: weights as the model computes with them (a
                                             packed int4 weight counts its values; block scales
                                             and zero points count none) */
    uint64_t bytes;
    uint64_t elements_by_dtype[OIR_DTYPE_COUNT];
    uint64_t bytes_by_dtype[OIR_DTYPE_COUNT];
} oir_param_stats;
void oir_model_param_stats(const oir_model *m, oir_param_stats *out);

/* Calls fn for every graph: the main graph first, then nested subgraphs (depth first).
 * Stops and returns the first non-zero result. */
int oir_model_for_each_graph(oir_model *m, int (*fn)(oir_graph *g, int depth, void *user), void *user);

#endif
