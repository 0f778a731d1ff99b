/* Public accelerator functions: a device + execution provider pair and the detected host. */
#include "api/accelerator_internal.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/host.h"
#include "backends/host_describe.h"
#include "backends/providers.h"
#include "core/alloc.h"
#include "core/status.h"

struct olive_accelerator {
    atomic_int refs;
    const char *device;   /* static, from the provider table */
    const char *provider; /* static, from the provider table */
};

/* Longest part of a caller's name echoed in a message, so the list of names stays visible. */
#define ECHO_MAX 80

/* Append "a, b, c" lists for error messages: the devices, and the providers that run on
 * `device_bit` (all of them when it is 0). */
static void list_devices(olive_strbuf *b)
{
    for (size_t i = 0; i < olive_device_count(); i++)
        olive_strbuf_printf(b, "%s%s", i ? ", " : "", olive_device_name(i));
}

static void list_providers(olive_strbuf *b, unsigned device_bit)
{
    const olive_provider_info *p;
    int first = 1;
    for (size_t i = 0; (p = olive_provider_get(i)) != NULL; i++) {
        if (device_bit && !(p->devices & device_bit))
            continue;
        olive_strbuf_printf(b, "%s%s", first ? "" : ", ", p->name);
        first = 0;
    }
}

/* Fails with OLIVE_EINVALID: `what`, then the list the strbuf holds. */
static int fail_listing(const char *what, olive_strbuf *list)
{
    char *names = olive_strbuf_take(list);
    int rc = olive_fail(OLIVE_EINVALID, "%s%s", what, names ? names : "");
    free(names);
    return rc;
}

static int fail_device(const char *device)
{
    olive_strbuf b = {0};
    char what[160];
    if (device)
        snprintf(what, sizeof what, "unknown accelerator device '%.*s': known devices are ", ECHO_MAX, device);
    else
        snprintf(what, sizeof what, "accelerator device is NULL: known devices are ");
    list_devices(&b);
    return fail_listing(what, &b);
}

static int fail_provider(const char *provider)
{
    const olive_provider_info *near = olive_provider_lookup_nocase(provider);
    olive_strbuf b = {0};
    char what[320];
    if (near)
        snprintf(what, sizeof what,
                 "unknown execution provider '%.*s' (names are case-sensitive: did you mean '%s'?): "
                 "known providers are ",
                 ECHO_MAX, provider, near->name);
    else
        snprintf(what, sizeof what, "unknown execution provider '%.*s': known providers are ", ECHO_MAX, provider);
    list_providers(&b, 0);
    return fail_listing(what, &b);
}

static int fail_pair(const char *provider, const char *device)
{
    olive_strbuf b = {0};
    char what[200];
    snprintf(what, sizeof what, "execution provider '%s' does not run on device '%s': providers for %s are ", provider,
             device, device);
    list_providers(&b, olive_device_bit(device));
    return fail_listing(what, &b);
}

int olive_accelerator_new(olive_accelerator **out, const char *device, const char *provider)
{
    const char *dev;
    const olive_provider_info *p = NULL;
    olive_accelerator *acc;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_accelerator_new: out is NULL");
    dev = olive_device_lookup(device);
    if (!dev)
        return fail_device(device);
    if (provider) {
        p = olive_provider_lookup(provider);
        if (!p)
            return fail_provider(provider);
        if (!(p->devices & olive_device_bit(dev)))
            return fail_pair(p->name, dev);
    } else {
        p = olive_provider_lookup(olive_device_default_provider(dev));
        if (!p)
            return olive_fail(OLIVE_EINTERNAL, "no default execution provider for device '%s'", dev);
    }
    acc = olive_calloc(1, sizeof *acc);
    if (!acc)
        return OLIVE_ENOMEM;
    atomic_init(&acc->refs, 1);
    acc->device = dev;
    acc->provider = p->name;
    *out = acc;
    return OLIVE_OK;
}

olive_accelerator *olive_accelerator_ref(olive_accelerator *acc)
{
    if (acc)
        atomic_fetch_add_explicit(&acc->refs, 1, memory_order_relaxed);
    return acc;
}

void olive_accelerator_free(olive_accelerator *acc)
{
    if (acc && atomic_fetch_sub_explicit(&acc->refs, 1, memory_order_acq_rel) == 1)
        free(acc);
}

/* Accessors return their value and never fail: NULL gives NULL or 0 and leaves the thread's
 * error as it was. */
const char *olive_accelerator_device(const olive_accelerator *acc)
{
    return acc ? acc->device : NULL;
}

const char *olive_accelerator_provider(const olive_accelerator *acc)
{
    return acc ? acc->provider : NULL;
}

int olive_accelerator_has_feature(const olive_accelerator *acc, const char *feature)
{
    int f = olive_isa_feature_from_name(feature);
    if (!acc || f < 0)
        return 0;
    return olive_host_has(olive_host_cpu_get(), (olive_isa_feature)f);
}

int olive_accelerator_describe_json(char **out, const olive_accelerator *acc)
{
    json_t *root;
    char *text, *copy;
    int rc;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_accelerator_describe_json: out is NULL");
    if (!acc)
        return olive_fail(OLIVE_EINVALID, "olive_accelerator_describe_json: accelerator is NULL");
    root = json_object();
    if (!root)
        return olive_fail(OLIVE_ENOMEM, "out of memory describing the accelerator as JSON");
    if (json_object_set_new(root, "device", json_string(acc->device)) != 0 ||
        json_object_set_new(root, "provider", json_string(acc->provider)) != 0) {
        json_decref(root);
        return olive_fail(OLIVE_ENOMEM, "out of memory describing the accelerator as JSON");
    }
    rc = olive_host_describe(root);
    if (rc != OLIVE_OK) {
        json_decref(root);
        return rc;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory writing the accelerator JSON");
    /* Re-home the text in our allocator: callers release it with olive_free. */
    copy = olive_strdup(text);
    free(text);
    if (!copy)
        return OLIVE_ENOMEM;
    *out = copy;
    return OLIVE_OK;
}

const char *olive_accelerator_cpu_model(const olive_accelerator *acc)
{
    return acc ? olive_host_cpu_get()->model : NULL;
}

int olive_accelerator_cpu_cores(const olive_accelerator *acc)
{
    return acc ? olive_host_cpu_get()->logical_cores : 0;
}

uint64_t olive_accelerator_memory_bytes(const olive_accelerator *acc)
{
    return acc ? olive_host_cpu_get()->memory_bytes : 0;
}

int olive_accelerator_cuda_device_count(const olive_accelerator *acc)
{
    const olive_backend *cuda = olive_cuda_backend();
    int n = acc && cuda ? cuda->dev.device_count() : 0;
    return n > 0 ? n : 0;
}
