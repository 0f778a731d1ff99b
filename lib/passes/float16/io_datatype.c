/* The io_datatype pass (Olive's OnnxIODataTypeConverter): main graph inputs and outputs of
 * one element type whose names match a pattern are exposed as another type, with a Cast at
 * each such edge; the graph inside is unchanged. The pattern is a POSIX extended regular
 * expression searched anywhere in the name (an empty pattern matches every name). */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/float16/float16.h"

static int add_cast(oir_graph *g, const char *src, const char *dst, int32_t to)
{
    char *node_name = olive_asprintf("%s_io_cast", dst);
    char *unique = node_name ? oir_graph_unique_name(g, node_name) : NULL;
    oir_node *n = unique
                      ? oir_node_new("Cast", "", unique, 1, (const char *const[]){src}, 1, (const char *const[]){dst})
                      : NULL;
    int rc = n ? oir_node_set_attr_int(n, "to", to) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = oir_graph_add_node(g, n);
    if (rc != OLIVE_OK) {
        oir_node_free(n);
        rc = olive_fail(rc, "out of memory adding a Cast for '%s'", dst);
    }
    free(node_name);
    free(unique);
    return rc;
}

static int has_type(const oir_value_info *v, int32_t elem)
{
    return v->type && v->type->kind == OIR_TYPE_TENSOR && v->type->elem_type == elem;
}

static oir_node *producer_of(const oir_graph *g, const char *value, size_t *slot)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
            if (!strcmp(g->nodes[i]->outputs[k], value)) {
                *slot = k;
                return g->nodes[i];
            }
    return NULL;
}

/* The input keeps its name with the new type; a Cast back to the old type feeds its readers. */
static int wrap_input(oir_graph *g, size_t i, int32_t source, int32_t target)
{
    char *name = g->inputs[i].name, *base = olive_asprintf("%s_converted", name);
    char *inner = base ? oir_graph_unique_name(g, base) : NULL;
    int rc = inner ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory converting input '%s'", name);
    if (rc == OLIVE_OK)
        rc = oir_graph_replace_uses(g, name, inner);
    if (rc == OLIVE_OK)
        rc = add_cast(g, name, inner, source);
    if (rc == OLIVE_OK)
        g->inputs[i].type->elem_type = target;
    free(base);
    free(inner);
    return rc;
}

/* The producer writes a new name; a Cast to the new type writes the output. */
static int wrap_output(oir_graph *g, size_t i, int32_t target, int *done)
{
    char *name = g->outputs[i].name, *base, *inner;
    size_t slot = 0;
    oir_node *p = producer_of(g, name, &slot);
    int rc;
    *done = 0;
    if (!p) /* an input or initializer passed straight through keeps its type */
        return OLIVE_OK;
    base = olive_asprintf("%s_converted", name);
    inner = base ? oir_graph_unique_name(g, base) : NULL;
    rc = inner ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory converting output '%s'", name);
    if (rc == OLIVE_OK)
        rc = oir_graph_replace_uses(g, name, inner);
    if (rc == OLIVE_OK)
        rc = oir_node_set_output(p, slot, inner);
    if (rc == OLIVE_OK)
        rc = add_cast(g, inner, name, target);
    if (rc == OLIVE_OK) {
        g->outputs[i].type->elem_type = target;
        *done = 1;
    }
    free(base);
    free(inner);
    return rc;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const char *pattern = olive_args_string(args, "name_pattern");
    int32_t source = (int32_t)olive_args_int(args, "source_dtype"),
            target = (int32_t)olive_args_int(args, "target_dtype");
    oir_graph *g = m->graph;
    regex_t re;
    size_t inputs = 0, outputs = 0;
    int rc = OLIVE_OK, have_re = pattern[0] != 0;
    if (!oir_dtype_bits(source) || !oir_dtype_bits(target))
        return olive_fail(OLIVE_EINVALID, "source_dtype %d and target_dtype %d must both be numeric ONNX types",
                          (int)source, (int)target);
    if (have_re && regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return olive_fail(OLIVE_EINVALID, "name_pattern '%s' is not a valid regular expression", pattern);
    if (source == target)
        goto done;
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++) {
        if (!has_type(&g->inputs[i], source) || oir_graph_initializer(g, g->inputs[i].name) ||
            (have_re && regexec(&re, g->inputs[i].name, 0, NULL, 0) != 0))
            continue;
        rc = wrap_input(g, i, source, target);
        inputs++;
    }
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++) {
        int done_one;
        if (!has_type(&g->outputs[i], source) || (have_re && regexec(&re, g->outputs[i].name, 0, NULL, 0) != 0))
            continue;
        rc = wrap_output(g, i, target, &done_one);
        outputs += (size_t)done_one;
    }
    if (rc == OLIVE_OK)
        rc = oir_graph_toposort(g);
    if (rc == OLIVE_OK)
        OLIVE_INFO("io_datatype: %zu inputs and %zu outputs now %s", inputs, outputs, oir_dtype_name(target));
done:
    if (have_re)
        regfree(&re);
    return rc == OLIVE_OK ? olive_pass_progress(ctx, 1.0) : rc;
}

static const olive_param_spec params[] = {
    {.name = "name_pattern",
     .type = OLIVE_PARAM_STRING,
     .default_value = "logits",
     .help = "Convert only inputs and outputs whose name matches this extended regular expression (empty: all)"},
    {.name = "source_dtype",
     .type = OLIVE_PARAM_INT,
     .default_value = "10",
     .min = 1,
     .max = 23,
     .help = "ONNX element type to convert from (10: float16)"},
    {.name = "target_dtype",
     .type = OLIVE_PARAM_INT,
     .default_value = "1",
     .min = 1,
     .max = 23,
     .help = "ONNX element type to convert to (1: float)"},
};

static const olive_pass_type olive_types[] = {{"OnnxIODataTypeConverter", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_io_datatype = {
    .name = "io_datatype",
    .summary = "Exposes main graph inputs and outputs of one element type as another, with Casts at the edges",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
