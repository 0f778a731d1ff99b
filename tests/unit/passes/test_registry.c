/* The registry's facts about every pass hold together: one-line help, search candidates the
 * parameter accepts, Olive types that resolve to one pass each and map to real parameters. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "core/status.h"
#include "passes/instance.h"
#include "passes/registry.h"

static int one_line(const char *text)
{
    return text && text[0] && !strchr(text, '\n') && strlen(text) <= OLIVE_HELP_MAX;
}

/* Calls check(def, spec, candidate) for each entry of a "a|b|c" list; returns how many. */
static size_t each_candidate(const olive_pass_def *def, const olive_param_spec *spec, const char *list)
{
    size_t n = 0;
    for (const char *p = list; p && *p; n++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        char one[128];
        CHECK(len > 0 && len < sizeof one);
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        CHECK_RC(olive_param_check(def, spec, one), OLIVE_OK);
        p = bar ? bar + 1 : NULL;
    }
    return n;
}

static void test_help_is_one_line(void)
{
    for (size_t i = 0; i < olive_registry_count(); i++) {
        const olive_pass_def *d = olive_registry_at(i);
        CHECK(one_line(d->summary));
        if (!one_line(d->summary))
            fprintf(stderr, "  summary of %s\n", d->name);
        for (size_t j = 0; j < d->n_params; j++) {
            CHECK(one_line(d->params[j].help));
            if (!one_line(d->params[j].help))
                fprintf(stderr, "  help of %s.%s\n", d->name, d->params[j].name);
        }
    }
}

static void test_search_spaces_are_valid_values(void)
{
    size_t searchable = 0;
    for (size_t i = 0; i < olive_registry_count(); i++) {
        const olive_pass_def *d = olive_registry_at(i);
        for (size_t j = 0; j < d->n_params; j++) {
            const olive_param_spec *s = &d->params[j];
            if (!s->search)
                continue;
            searchable++;
            /* A space of one candidate is no search. */
            CHECK(each_candidate(d, s, s->search) >= 2);
        }
    }
    /* The quantizers' well-known knobs are searchable (Olive searches the dynamic ones). */
    CHECK(searchable >= 5);
    CHECK(olive_param_find(olive_registry_find("quantize_dynamic"), "per_channel")->search != NULL);
    CHECK(olive_param_find(olive_registry_find("quantize"), "block_size")->search != NULL);
}

static void test_olive_types_resolve_to_one_pass(void)
{
    for (size_t i = 0; i < olive_registry_count(); i++) {
        const olive_pass_def *d = olive_registry_at(i);
        CHECK(olive_registry_lookup(d->name, NULL) == d);
        for (const olive_pass_type *t = d->olive_types; t && t->name; t++) {
            const olive_pass_type *found = NULL;
            char upper[128];
            size_t k;
            /* No type is also the name of another pass or a type of another pass (Olive's "Gptq"
             * may spell its own pass's name "gptq"). */
            for (size_t other = 0; other < olive_registry_count(); other++)
                CHECK(other == i || strcasecmp(olive_registry_at(other)->name, t->name) != 0);
            CHECK(olive_registry_lookup(t->name, &found) == d && found == t);
            for (k = 0; t->name[k] && k + 1 < sizeof upper; k++)
                upper[k] = (char)(t->name[k] >= 'a' && t->name[k] <= 'z' ? t->name[k] - 32 : t->name[k]);
            upper[k] = '\0';
            CHECK(olive_registry_lookup(upper, NULL) == d);
            /* Renames name real parameters; the fixed settings are valid. */
            for (const olive_key_map *r = t->renames; r && r->key; r++)
                CHECK(olive_param_find(d, r->param) != NULL && r->values == NULL);
            {
                olive_pass *p = NULL;
                CHECK_RC(olive_pass_instance_new_named(&p, t->name), OLIVE_OK);
                CHECK(p && p->def == d);
                olive_pass_unref(p);
            }
        }
        for (const olive_key_map *km = d->olive_keys; km && km->key; km++) {
            const olive_param_spec *s = olive_param_find(d, km->param);
            CHECK(s != NULL);
            /* Each translated value is one the parameter takes (an empty one leaves it alone). */
            for (const char *q = km->values; s && q && *q;) {
                const char *eq = strchr(q, '='), *bar = strchr(q, '|');
                const char *end = bar ? bar : q + strlen(q);
                char ours[64];
                CHECK(eq && eq < end);
                if (!eq || eq >= end)
                    break;
                snprintf(ours, sizeof ours, "%.*s", (int)(end - eq - 1), eq + 1);
                if (ours[0])
                    CHECK_RC(olive_param_check(d, s, ours), OLIVE_OK);
                q = bar ? bar + 1 : NULL;
            }
        }
    }
    CHECK(olive_registry_lookup("NoSuchOlivePass", NULL) == NULL);
}

static void test_type_settings_and_flags(void)
{
    olive_pass *p = NULL;
    const char *v = NULL;
    /* OnnxMatMul4Quantizer is quantize with 4 bits, whatever quantize's default. */
    CHECK_RC(olive_pass_instance_new_named(&p, "OnnxMatMul4Quantizer"), OLIVE_OK);
    CHECK_STR(p ? p->def->name : NULL, "quantize");
    CHECK_RC(p ? olive_pass_instance_get(p, "bits", &v) : OLIVE_EINVALID, OLIVE_OK);
    CHECK_STR(v, "4");
    olive_pass_unref(p);
    p = NULL;
    CHECK_RC(olive_pass_instance_new_named(&p, "NoSuchOlivePass"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("known passes");
    CHECK(p == NULL);
    /* Only the converter runs on a checkpoint. */
    for (size_t i = 0; i < olive_registry_count(); i++) {
        const olive_pass_def *d = olive_registry_at(i);
        CHECK(!(d->flags & OLIVE_PASS_ACCEPTS_CHECKPOINT) == !!strcmp(d->name, "convert"));
    }
    CHECK(olive_registry_find("fuse")->flags & OLIVE_PASS_DEPENDS_ON_ACCELERATOR);
    CHECK(!(olive_registry_find("peephole")->flags & OLIVE_PASS_DEPENDS_ON_ACCELERATOR));
}

int main(void)
{
    test_help_is_one_line();
    test_search_spaces_are_valid_values();
    test_olive_types_resolve_to_one_pass();
    test_type_settings_and_flags();
    return check_summary("test_registry");
}
