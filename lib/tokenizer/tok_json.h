/* Reading tokenizer.json fields with errors that name the field ("model.vocab", ...). Every
 * getter returns OLIVE_OK or OLIVE_EFORMAT (wrong type, out of bounds, missing when required);
 * a missing or null optional field leaves *out at the default given. */
#ifndef OLIVE_TOKENIZER_TOK_JSON_H
#define OLIVE_TOKENIZER_TOK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Deepest nesting of Sequence components accepted. */
#define OTOK_MAX_DEPTH 32

int otok_json_fail(const char *path, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A string field (borrowed from the JSON). */
int otok_json_string(json_t *obj, const char *path, const char *key, int required, const char **out, size_t *len);
int otok_json_bool(json_t *obj, const char *path, const char *key, int *out);
int otok_json_uint(json_t *obj, const char *path, const char *key, uint64_t max, uint64_t *out);
int otok_json_double(json_t *obj, const char *path, const char *key, double *out);
/* A field holding a single character (Metaspace's replacement, Strip's content). */
int otok_json_char(json_t *obj, const char *path, const char *key, uint32_t *out);
/* An object's "type" string. */
int otok_json_type(json_t *obj, const char *path, const char **out);
/* path + "." + key, or path + "[i]" (i >= 0); malloc'd, NULL on ENOMEM. */
char *otok_json_path(const char *path, const char *key, long i);

#endif
