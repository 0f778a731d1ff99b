/* Per-node quantization settings (see node_overrides.h). */
#include <jansson.h>
#include <stdlib.h>

#include "core/status.h"
#include "core/node_overrides.h"

struct olive_node_overrides {
    json_t *root;
};

static int check_int(const char *node, const char *key, json_t *v, int lo, int hi, int pow2)
{
    json_int_t i;
    if (!v)
        return OLIVE_OK;
    if (!json_is_integer(v))
        return olive_fail(OLIVE_EINVALID, "customized_weight_config: %s.%s must be an integer", node, key);
    i = json_integer_value(v);
    if (i < lo || i > hi || (pow2 && (i & (i - 1))) || (!pow2 && i != lo && i != hi))
        return olive_fail(OLIVE_EINVALID, "customized_weight_config: %s.%s=%lld: expected %s", node, key, (long long)i,
                          pow2 ? "16, 32, 64, 128 or 256" : "4 or 8");
    return OLIVE_OK;
}

int olive_node_overrides_parse(const char *text, olive_node_overrides **out)
{
    json_error_t err;
    json_t *root, *entry;
    const char *node;
    *out = NULL;
    if (!text || !text[0])
        return OLIVE_OK;
    if (!(root = json_loads(text, 0, &err)))
        return olive_fail(OLIVE_EINVALID, "customized_weight_config: not JSON (%s at column %d)", err.text, err.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return olive_fail(OLIVE_EINVALID, "customized_weight_config: expected an object of node names");
    }
    json_object_foreach(root, node, entry)
    {
        int rc;
        if (!json_is_object(entry)) {
            int rc = olive_fail(OLIVE_EINVALID, "customized_weight_config: '%s' must map to an object", node);
            json_decref(root); /* after the message: it owns `node` */
            return rc;
        }
        if ((rc = check_int(node, "bits", json_object_get(entry, "bits"), 4, 8, 0)) != OLIVE_OK ||
            (rc = check_int(node, "group_size", json_object_get(entry, "group_size"), 16, 256, 1)) != OLIVE_OK) {
            json_decref(root);
            return rc;
        }
    }
    if (!(*out = malloc(sizeof **out))) {
        json_decref(root);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    (*out)->root = root;
    return OLIVE_OK;
}

void olive_node_overrides_apply(const olive_node_overrides *o, const char *name, int *bits, int *block_size)
{
    json_t *entry, *v;
    if (!o || !name[0] || !(entry = json_object_get(o->root, name)))
        return;
    if ((v = json_object_get(entry, "bits")))
        *bits = (int)json_integer_value(v);
    if ((v = json_object_get(entry, "group_size")))
        *block_size = (int)json_integer_value(v);
}

int olive_node_overrides_has(const olive_node_overrides *o, const char *name)
{
    return o && name[0] && json_object_get(o->root, name) != NULL;
}

void olive_node_overrides_free(olive_node_overrides *o)
{
    if (!o)
        return;
    json_decref(o->root);
    free(o);
}
