/* customized_weight_config, shared by the quantize and gptq passes: per-node bits and block
 * size, as ONNX Runtime's RTN and k-quant configs and Olive's OnnxKQuantQuantization take it: a
 * JSON object mapping node names to {"bits": 4 | 8, "group_size": 16..256}. Other keys are
 * ignored, as there. */
#ifndef OLIVE_CORE_NODE_OVERRIDES_H
#define OLIVE_CORE_NODE_OVERRIDES_H

typedef struct olive_node_overrides olive_node_overrides;

/* Parses `text` ("" for none: *out = NULL). A malformed object or an out-of-range value is
 * OLIVE_EINVALID naming the node and key. */
int olive_node_overrides_parse(const char *text, olive_node_overrides **out);
/* Applies the entry of node `name`, if any, to *bits and *block_size. */
void olive_node_overrides_apply(const olive_node_overrides *o, const char *name, int *bits, int *block_size);
/* 1 if the object has an entry for node `name`. */
int olive_node_overrides_has(const olive_node_overrides *o, const char *name);
void olive_node_overrides_free(olive_node_overrides *o);

#endif
