/* hello: the smallest complete libolive program.
 *
 * Loads an ONNX model, prints its inputs, outputs and parameter count, then runs the
 * `peephole` pass through an engine and writes the result to an output folder.
 *
 *   cc hello.c $(pkg-config --cflags --libs libolive) -o hello
 *   ./hello model.onnx out/
 */
#include <inttypes.h>
#include <stdio.h>

#include <olive/olive.h>

/* Every libolive call returns OLIVE_OK or a negative code; the message says what failed. */
static int check(int rc, const char *what)
{
    if (rc != OLIVE_OK)
        fprintf(stderr, "hello: %s failed (%s): %s\n", what, olive_strerror(rc), olive_error_last());
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.onnx OUTPUT_DIR\n", argv[0]);
        return 2;
    }

    printf("libolive %s\n", olive_version_string());

    olive_model *model = NULL;
    olive_engine *engine = NULL;
    olive_pass *pass = NULL;
    int status = 1;

    if (check(olive_model_load(&model, argv[1]), "loading the model") != OLIVE_OK)
        goto done;

    for (size_t i = 0; i < olive_model_input_count(model); i++)
        printf("input: %s\n", olive_model_input_name(model, i));
    for (size_t i = 0; i < olive_model_output_count(model); i++)
        printf("output: %s\n", olive_model_output_name(model, i));
    printf("parameters: %" PRIu64 "\n", olive_model_parameter_count(model));

    /* NULL accelerator: CPU with CPUExecutionProvider. */
    if (check(olive_engine_new(&engine, NULL), "creating the engine") != OLIVE_OK)
        goto done;
    if (check(olive_pass_new(&pass, "peephole"), "creating the peephole pass") != OLIVE_OK)
        goto done;
    /* The engine keeps its own reference to the pass. */
    if (check(olive_engine_add_pass(engine, pass), "adding the pass") != OLIVE_OK)
        goto done;
    if (check(olive_engine_set_options(engine, "overwrite=true"), "setting engine options") != OLIVE_OK)
        goto done;
    if (check(olive_engine_run(engine, model, argv[2], NULL), "running the engine") != OLIVE_OK)
        goto done;

    printf("wrote %s\n", argv[2]);
    status = 0;

done:
    olive_pass_free(pass);
    olive_engine_free(engine);
    olive_model_free(model);
    return status;
}
