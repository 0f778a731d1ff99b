/* Per-graph type maps of the float16 pass. Types are stored in the map values as integers;
 * a missing entry falls through to the outer scope. */
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/float16/f16_internal.h"

static int32_t lookup(const f16_scope *s, const char *value, size_t map_offset)
{
    for (; s; s = s->outer) {
        const olive_strmap *m = (const olive_strmap *)((const char *)s + map_offset);
        if (olive_strmap_has(m, value))
            return (int32_t)(intptr_t)olive_strmap_get(m, value);
    }
    return OIR_UNDEFINED;
}

int32_t f16_orig_type(const f16_scope *s, const char *value)
{
    return lookup(s, value, offsetof(f16_scope, orig));
}

int32_t f16_now_type(const f16_scope *s, const char *value)
{
    return lookup(s, value, offsetof(f16_scope, now));
}

const char *f16_own(f16_scope *s, const char *str)
{
    char *copy = olive_strdup(str);
    if (!copy)
        return NULL;
    if (s->n_owned == s->cap_owned) {
        size_t cap = s->cap_owned ? s->cap_owned * 2 : 64;
        char **grown = realloc(s->owned, cap * sizeof *grown);
        if (!grown) {
            free(copy);
            return NULL;
        }
        s->owned = grown;
        s->cap_owned = cap;
    }
    s->owned[s->n_owned++] = copy;
    return copy;
}

static int set(f16_scope *s, olive_strmap *m, const char *value, int32_t type)
{
    const char *key = f16_own(s, value);
    if (!key || olive_strmap_put(m, key, (void *)(intptr_t)type) != OLIVE_OK)
        return olive_fail(OLIVE_ENOMEM, "out of memory recording the type of '%s'", value);
    return OLIVE_OK;
}

int f16_set_orig(f16_scope *s, const char *value, int32_t type)
{
    return set(s, &s->orig, value, type);
}

int f16_set_now(f16_scope *s, const char *value, int32_t type)
{
    return set(s, &s->now, value, type);
}

void f16_scope_free(f16_scope *s)
{
    olive_strmap_free(&s->orig);
    olive_strmap_free(&s->now);
    olive_strmap_free(&s->origin);
    olive_strmap_free(&s->to_float);
    olive_strmap_free(&s->to_target);
    olive_strmap_free(&s->to_blocked);
    for (size_t i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    s->owned = NULL;
    s->n_owned = s->cap_owned = 0;
}
