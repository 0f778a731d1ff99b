/* Small helpers of the quantize_dynamic pass (see dynamic_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/quant_dynamic/dynamic_internal.h"

char *dq_unique(oir_graph *g, const char *fmt, ...)
{
    va_list ap;
    char buf[1024], *name;
    int len;
    va_start(ap, fmt);
    len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof buf) {
        olive_fail(OLIVE_EINVALID, "name too long: '%.64s...'", buf);
        return NULL;
    }
    if (!(name = oir_graph_unique_name(g, buf)))
        olive_fail(OLIVE_ENOMEM, "out of memory");
    return name;
}

int dq_splice(oir_graph *g, size_t *at, oir_node **nodes, size_t count)
{
    int rc = OLIVE_OK;
    for (size_t j = 0; j < count; j++)
        if (!nodes[j])
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    for (size_t j = 1; j < count && rc == OLIVE_OK; j++)
        if ((rc = oir_graph_insert_node(g, *at + j, nodes[j])) == OLIVE_OK)
            nodes[j] = NULL;
    if (rc != OLIVE_OK) {
        for (size_t j = 0; j < count; j++)
            oir_node_free(nodes[j]);
        return rc;
    }
    oir_graph_replace_node(g, *at, nodes[0]);
    *at += count - 1;
    return OLIVE_OK;
}

int dq_require_opset11(const dq_run *r, const oir_node *n)
{
    if (r->opset >= 11)
        return OLIVE_OK;
    return olive_fail(OLIVE_EUNSUPPORTED,
                      "%s '%s': dynamic quantization needs opset 11 or later (DynamicQuantizeLinear); the model "
                      "imports opset %lld",
                      n->op_type, dq_label(n), (long long)r->opset);
}

oir_tensor *dq_constant_weight(oir_graph *g, const oir_node *n, const char *name, const char *what)
{
    oir_tensor *t = name[0] ? oir_graph_initializer(g, name) : NULL;
    uint64_t want;
    if (!t || oir_graph_input_index(g, name) >= 0) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': %s '%s' is not a constant initializer", n->op_type, dq_label(n),
                   what, name);
        return NULL;
    }
    if (t->dtype != OIR_FLOAT) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': %s '%s' is %s, not float", n->op_type, dq_label(n), what,
                   t->name, oir_dtype_name(t->dtype));
        return NULL;
    }
    if (!t->blob || oir_tensor_expected_bytes(t, &want) != OLIVE_OK || want != t->nbytes || want == 0) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': %s '%s' has no data of the size its shape needs", n->op_type,
                   dq_label(n), what, t->name);
        return NULL;
    }
    return t;
}
