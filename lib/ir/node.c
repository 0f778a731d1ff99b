#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

static char **dup_names(size_t n, const char *const *names)
{
    char **out = olive_calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(out[i] = olive_strdup(names && names[i] ? names[i] : ""))) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return NULL;
        }
    }
    return out;
}

oir_node *oir_node_new(const char *op_type, const char *domain, const char *name, size_t n_inputs,
                       const char *const *inputs, size_t n_outputs, const char *const *outputs)
{
    size_t op_len, domain_len;
    oir_node *n;
    char *text;
    op_type = op_type ? op_type : "";
    domain = domain ? domain : "";
    op_len = strlen(op_type) + 1;
    domain_len = strlen(domain) + 1;
    if (op_len > SIZE_MAX / 4 || domain_len > SIZE_MAX / 4 || !(n = olive_calloc(1, sizeof *n + op_len + domain_len)))
        return NULL;
    text = (char *)(n + 1);
    memcpy(text, op_type, op_len);
    memcpy(text + op_len, domain, domain_len);
    n->op_type = text;
    n->domain = text + op_len;
    n->name = olive_strdup(name ? name : "");
    n->inputs = dup_names(n_inputs, inputs);
    if (n->inputs)
        n->n_inputs = n_inputs;
    n->outputs = dup_names(n_outputs, outputs);
    if (n->outputs)
        n->n_outputs = n_outputs;
    if (!n->name || !n->inputs || !n->outputs) {
        oir_node_free(n);
        return NULL;
    }
    return n;
}

oir_node *oir_node_clone(const oir_node *src)
{
    return oir_node_clone_as(src, src->op_type, src->domain);
}

oir_node *oir_node_clone_as(const oir_node *src, const char *op_type, const char *domain)
{
    oir_node *n = oir_node_new(op_type, domain, src->name, src->n_inputs, (const char *const *)src->inputs,
                               src->n_outputs, (const char *const *)src->outputs);
    if (!n)
        return NULL;
    if (src->doc_string && !(n->doc_string = olive_strdup(src->doc_string)))
        goto fail;
    if (src->n_attrs) {
        if (!(n->attrs = olive_calloc(src->n_attrs, sizeof *n->attrs)))
            goto fail;
        n->cap_attrs = src->n_attrs;
        for (size_t i = 0; i < src->n_attrs; i++) {
            if (oir_attr_copy(&n->attrs[i], &src->attrs[i]))
                goto fail;
            n->n_attrs++;
        }
    }
    if (src->passthrough.data) {
        if (!(n->passthrough.data = olive_malloc(src->passthrough.len + 1)))
            goto fail;
        memcpy(n->passthrough.data, src->passthrough.data, src->passthrough.len);
        n->passthrough.data[src->passthrough.len] = 0;
        n->passthrough.len = src->passthrough.len;
    }
    n->mark = src->mark;
    return n;
fail:
    oir_node_free(n);
    return NULL;
}

void oir_node_free(oir_node *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->doc_string);
    if (n->inputs)
        for (size_t i = 0; i < n->n_inputs; i++)
            free(n->inputs[i]);
    free(n->inputs);
    if (n->outputs)
        for (size_t i = 0; i < n->n_outputs; i++)
            free(n->outputs[i]);
    free(n->outputs);
    for (size_t i = 0; i < n->n_attrs; i++)
        oir_attr_clear(&n->attrs[i]);
    free(n->attrs);
    free(n->passthrough.data);
    free(n);
}

/* Sets names[index] (growing the array with "" entries when index is past the end). */
static int set_name(char ***names, size_t *count, size_t index, const char *value)
{
    char *copy = olive_strdup(value ? value : "");
    if (!copy)
        return OLIVE_ENOMEM;
    if (index >= *count) {
        char **grown = olive_reallocarray(*names, index + 1, sizeof **names);
        if (!grown) {
            free(copy);
            return OLIVE_ENOMEM;
        }
        *names = grown;
        for (size_t i = *count; i <= index; i++)
            grown[i] = NULL;
        for (size_t i = *count; i < index; i++) {
            if (!(grown[i] = olive_strdup(""))) {
                for (size_t j = *count; j < i; j++)
                    free(grown[j]);
                free(copy);
                return OLIVE_ENOMEM;
            }
        }
        *count = index + 1;
    } else {
        free((*names)[index]);
    }
    (*names)[index] = copy;
    return OLIVE_OK;
}

int oir_node_set_input(oir_node *n, size_t index, const char *value)
{
    return set_name(&n->inputs, &n->n_inputs, index, value);
}

int oir_node_set_output(oir_node *n, size_t index, const char *value)
{
    return set_name(&n->outputs, &n->n_outputs, index, value);
}
