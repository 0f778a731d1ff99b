/* libolive — passes.
 *
 * A pass is one configured transformation, created by name from the registry. Its parameters
 * are set as key/value strings and validated against the registry's description (type,
 * bounds, choices). Olive's pass type names (e.g. "OnnxPeepholeOptimizer") are accepted as
 * aliases of libolive's names; a type that is a setting of a more general pass
 * ("OnnxMatMul4Quantizer": quantize with bits=4) creates that pass with that setting.
 */
#ifndef OLIVE_PASS_H
#define OLIVE_PASS_H

#include "olive/common.h"
#include "olive/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct olive_pass olive_pass;

/* Parameter types, as the registry describes them (olive_pass_param_type). */
#define OLIVE_PARAM_BOOL 0
#define OLIVE_PARAM_INT 1
#define OLIVE_PARAM_FLOAT 2
#define OLIVE_PARAM_STRING 3
#define OLIVE_PARAM_CHOICE 4 /* one of a fixed list of strings */
#define OLIVE_PARAM_LIST 5   /* comma-separated strings */

/* Registry: the number of registered passes and the name of the i-th (NULL if out of range).
 * Since 0.1. */
OLIVE_API size_t olive_pass_registry_count(void);
OLIVE_API const char *olive_pass_registry_name(size_t index);

/* Describes a registered pass (by name or Olive pass type) as JSON into *out (release with
 * olive_free): name, summary, details (when there are more), aliases (the Olive pass types),
 * olive_types (each type's fixed settings, parameter renames and ignored keys), olive_keys
 * (Olive keys taken under another name, with translated values), nested_keys,
 * accepts_checkpoint, depends_on_accelerator, and parameters: each one's name, type, default,
 * min and max or choices, search (the default candidates a search tries, for a searchable
 * parameter), help (one line) and details; and, for a pass that chooses among named units
 * (GraphSurgeries' surgeons), catalog: {"label", "names"} (since 0.2).
 * Errors: OLIVE_EINVALID, OLIVE_ENOTFOUND (unknown name; the message lists the known ones).
 * Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_pass_describe_json(char **out, const char *name);

/* Creates a pass by name or Olive pass type, with default parameters (and the type's fixed
 * settings). Release with olive_pass_free.
 * Errors: OLIVE_EINVALID, OLIVE_ENOTFOUND (the message lists the known passes), OLIVE_ENOMEM.
 * Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_pass_new(olive_pass **out, const char *name);

/* Creates a pass from an Olive pass type and its config as Olive writes it: `config_json` is a
 * JSON object of Olive's parameter names ({"target_opset": 17}; NULL or "" for the defaults),
 * mapped as a workflow config's "passes" entries are. Unknown parameters are errors.
 * Release with olive_pass_free. Errors: OLIVE_EINVALID (NULL, not a JSON object, bad value:
 * the message names the parameter), OLIVE_ENOTFOUND (unknown type: the message lists the
 * known ones), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_pass_new_olive(olive_pass **out, const char *type, const char *config_json);

/* Releases the caller's reference. Accepts NULL. An engine holding the pass keeps it alive.
 * Since 0.1. */
OLIVE_API void olive_pass_free(olive_pass *pass);

/* The pass's registry name (borrowed). Since 0.1. */
OLIVE_API const char *olive_pass_name(const olive_pass *pass);

/* Sets a parameter from its text form ("true", "32", "0.5", "a,b"). The value is checked
 * against the parameter's type, bounds and choices; on failure the pass is unchanged.
 * Errors: OLIVE_EINVALID (NULL, bad value: the message names the key and what is accepted),
 * OLIVE_ENOTFOUND (unknown key: the message lists the valid keys). Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_pass_set(olive_pass *pass, const char *key, const char *value);

/* Typed siblings of olive_pass_set; same checks and errors. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_pass_set_int(olive_pass *pass, const char *key, int64_t value);
OLIVE_API OLIVE_NODISCARD int olive_pass_set_float(olive_pass *pass, const char *key, double value);
OLIVE_API OLIVE_NODISCARD int olive_pass_set_bool(olive_pass *pass, const char *key, int value);

/* Bulk form: space-separated "key=value" settings, applied all or nothing.
 * Errors: as olive_pass_set, naming the first bad setting. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_pass_set_many(olive_pass *pass, const char *settings);

/* Current value of a parameter in text form (borrowed from the pass, valid until it is set
 * again or the pass is freed). Errors: OLIVE_EINVALID, OLIVE_ENOTFOUND. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_pass_get(const olive_pass *pass, const char *key, const char **value);

/* Typed getters: the current value of an INT, FLOAT or BOOL parameter (a BOOL as 0 or 1).
 * On failure *value is unchanged. Errors: OLIVE_EINVALID (NULL, or the parameter has another
 * type: the message names it), OLIVE_ENOTFOUND (unknown key). Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_pass_get_int(const olive_pass *pass, const char *key, int64_t *value);
OLIVE_API OLIVE_NODISCARD int olive_pass_get_float(const olive_pass *pass, const char *key, double *value);
OLIVE_API OLIVE_NODISCARD int olive_pass_get_bool(const olive_pass *pass, const char *key, int *value);

/* The type of a parameter (one of OLIVE_PARAM_*) into *type.
 * Errors: OLIVE_EINVALID (NULL), OLIVE_ENOTFOUND (unknown key: the message lists the valid
 * keys). Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_pass_param_type(const olive_pass *pass, const char *key, int *type);

/* Runs the pass on `model` and gives the result in *out (a new model, sharing unchanged
 * weights with the input; release with olive_model_free). The input model is not changed.
 * Errors: OLIVE_EINVALID, OLIVE_EFORMAT (the model is not valid for this pass),
 * OLIVE_EUNSUPPORTED, OLIVE_ENOMEM. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_pass_apply(olive_model **out, const olive_pass *pass, const olive_model *model);

#ifdef __cplusplus
}
#endif
#endif
