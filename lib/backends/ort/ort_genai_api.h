/* The ONNX Runtime GenAI functions libolive calls, declared here from the documented C API
 * (flat Oga* functions exported by libonnxruntime-genai.so) and resolved with dlsym when the
 * library is loaded (ort_loader.h). Every fallible Oga* call returns NULL on success or an
 * OgaResult holding the error message, released with OgaDestroyResult. */
#ifndef OLIVE_BACKENDS_ORT_GENAI_API_H
#define OLIVE_BACKENDS_ORT_GENAI_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct OgaResult OgaResult;
typedef struct OgaConfig OgaConfig;
typedef struct OgaModel OgaModel;
typedef struct OgaTokenizer OgaTokenizer;
typedef struct OgaSequences OgaSequences;
typedef struct OgaGeneratorParams OgaGeneratorParams;
typedef struct OgaGenerator OgaGenerator;

/* X(return type, name, parameter list): the functions, in the order they are resolved. Each
 * must be exported by the library, except those marked optional below. */
#define OLIVE_OGA_FUNCTIONS(X)                                                                                         \
    X(const char *, OgaResultGetError, (const OgaResult *result))                                                      \
    X(void, OgaDestroyResult, (OgaResult * result))                                                                    \
    X(void, OgaDestroyString, (const char *s))                                                                         \
    X(OgaResult *, OgaCreateConfig, (const char *config_path, OgaConfig **out))                                        \
    X(OgaResult *, OgaConfigClearProviders, (OgaConfig * config))                                                      \
    X(OgaResult *, OgaConfigAppendProvider, (OgaConfig * config, const char *provider))                                \
    X(void, OgaDestroyConfig, (OgaConfig * config))                                                                    \
    X(OgaResult *, OgaCreateModelFromConfig, (const OgaConfig *config, OgaModel **out))                                \
    X(void, OgaDestroyModel, (OgaModel * model))                                                                       \
    X(OgaResult *, OgaCreateTokenizer, (const OgaModel *model, OgaTokenizer **out))                                    \
    X(void, OgaDestroyTokenizer, (OgaTokenizer * tokenizer))                                                           \
    X(OgaResult *, OgaCreateSequences, (OgaSequences * *out))                                                          \
    X(void, OgaDestroySequences, (OgaSequences * sequences))                                                           \
    X(size_t, OgaSequencesCount, (const OgaSequences *sequences))                                                      \
    X(size_t, OgaSequencesGetSequenceCount, (const OgaSequences *sequences, size_t index))                             \
    X(const int32_t *, OgaSequencesGetSequenceData, (const OgaSequences *sequences, size_t index))                     \
    X(OgaResult *, OgaTokenizerEncode, (const OgaTokenizer *tokenizer, const char *text, OgaSequences *out))           \
    X(OgaResult *, OgaTokenizerDecode,                                                                                 \
      (const OgaTokenizer *tokenizer, const int32_t *tokens, size_t count, const char **out))                          \
    X(OgaResult *, OgaCreateGeneratorParams, (const OgaModel *model, OgaGeneratorParams **out))                        \
    X(void, OgaDestroyGeneratorParams, (OgaGeneratorParams * params))                                                  \
    X(OgaResult *, OgaGeneratorParamsSetSearchNumber, (OgaGeneratorParams * params, const char *name, double value))   \
    X(OgaResult *, OgaGeneratorParamsSetSearchBool, (OgaGeneratorParams * params, const char *name, bool value))       \
    X(OgaResult *, OgaCreateGenerator, (const OgaModel *model, const OgaGeneratorParams *params, OgaGenerator **out))  \
    X(void, OgaDestroyGenerator, (OgaGenerator * generator))                                                           \
    X(bool, OgaGenerator_IsDone, (const OgaGenerator *generator))                                                      \
    X(OgaResult *, OgaGenerator_AppendTokens, (OgaGenerator * generator, const int32_t *ids, size_t count))            \
    X(OgaResult *, OgaGenerator_GenerateNextToken, (OgaGenerator * generator))                                         \
    X(size_t, OgaGenerator_GetSequenceCount, (const OgaGenerator *generator, size_t index))                            \
    X(const int32_t *, OgaGenerator_GetSequenceData, (const OgaGenerator *generator, size_t index))                    \
    /* Optional: older releases have no chat templates. */                                                             \
    X(OgaResult *, OgaTokenizerApplyChatTemplate,                                                                      \
      (const OgaTokenizer *tokenizer, const char *template_str, const char *messages, const char *tools,               \
       bool add_generation_prompt, const char **out))

typedef struct oga_api {
#define OLIVE_OGA_MEMBER(ret, name, params) ret(*name) params;
    OLIVE_OGA_FUNCTIONS(OLIVE_OGA_MEMBER)
#undef OLIVE_OGA_MEMBER
} oga_api;

#endif
