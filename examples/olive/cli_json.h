/* Reading the JSON documents the library returns (model summaries, pass descriptions). */
#ifndef OLIVE_CLI_JSON_H
#define OLIVE_CLI_JSON_H

#include <stdint.h>

#include <jansson.h>

/* Parses a document the library returned and releases the text with olive_free. On a parse
 * error prints one error line and returns NULL. */
json_t *cli_json_take(char *text, const char *what);

/* Member `name` of `obj`, or NULL when absent or when `obj` is not an object. */
json_t *cli_json_get(const json_t *obj, const char *name);

/* Typed reads with a fallback for missing or mistyped members. */
const char *cli_json_str(const json_t *obj, const char *name, const char *fallback);
int64_t cli_json_int(const json_t *obj, const char *name, int64_t fallback);

/* Writes a JSON scalar as text ("32", "0.5", "true", "auto"); "" for null or containers. */
const char *cli_json_scalar_text(const json_t *value, char *buf, size_t size);

#endif
