/* Greedy generation through ONNX Runtime GenAI (the implementation behind olive_generator;
 * see include/olive/session.h for the behaviour and the JSON it returns). */
#ifndef OLIVE_BACKENDS_ORT_GENERATOR_H
#define OLIVE_BACKENDS_ORT_GENERATOR_H

#include <stddef.h>

#include "backends/ort/ort_loader.h"

typedef struct olive_ort_generator olive_ort_generator;

/* Loads the decoder folder `dir` for execution provider `provider` with the generator options
 * text. Errors as olive_generator_new's. */
int olive_ort_generator_new(olive_ort_generator **out, const char *dir, const char *provider, const char *options);
void olive_ort_generator_free(olive_ort_generator *generator);
int olive_ort_generator_generate_json(char **out, olive_ort_generator *generator, const char *prompt,
                                      size_t new_tokens);

#endif
