/* The detected host and the built backends as JSON members (jansson). */
#ifndef OLIVE_BACKENDS_HOST_DESCRIBE_H
#define OLIVE_BACKENDS_HOST_DESCRIBE_H

#include <jansson.h>

/* Adds to `obj`: cpu {arch, model, logical_cores, affinity_cores, physical_cores, features[]},
 * memory_bytes, cuda {available, runtime_version, devices[{name, memory_bytes,
 * compute_capability}]}, cpu_backend {library, version, available}, backends[].
 * Returns OLIVE_OK or OLIVE_ENOMEM (error set; `obj` may hold some of the members). */
int olive_host_describe(json_t *obj);

/* A JSON string for `s` (NULL gives JSON null); bytes that are not valid UTF-8 become '?'. */
json_t *olive_json_text(const char *s);

#endif
