/* LoRA layers as graph inputs: y = x W + (x A) B, with A [in, r] and B [r, out] fed at run time
 * (ONNX Runtime GenAI's adapters; B already scaled by alpha / r, see formats/peft.h). A model
 * run without an adapter uses the inputs' defaults, empty A and B (r = 0), which add nothing. */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/peft.h"
#include "passes/convert/decoder.h"

/* An input with an empty initializer of the same name: its default when no adapter feeds it
 * (ONNX Runtime GenAI feeds only the active adapter's parameters). */
static int add_input(cvt_decoder *d, const char *name, const char *rank, int64_t rows, int64_t cols, int rank_first)
{
    const int64_t dims[2] = {rank_first ? -1 : rows, rank_first ? cols : -1};
    const int64_t empty[2] = {rank_first ? 0 : rows, rank_first ? cols : 0};
    const char *params[2] = {rank_first ? rank : NULL, rank_first ? NULL : rank};
    oir_type *t = oir_type_new_tensor(d->io_dtype, 2, dims, params);
    int rc;
    if (!t)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    rc = oir_graph_add_input(d->g, name, t);
    oir_type_free(t);
    if (rc == OLIVE_OK)
        rc = cvt_init_from_f32(d, name, d->io_dtype, 2, empty, (const float[1]){0});
    return rc;
}

int cvt_lora_branch(cvt_decoder *d, const char *module, const char *path, const char *x, int64_t in, int64_t out,
                    const char **y)
{
    const ofmt_lora_layer *ly = ofmt_lora_find(d->lora, module);
    const char *a, *b, *xa, *xab, *sum, *rank;
    if (!ly)
        return OLIVE_OK;
    if (ly->in != in || ly->out != out)
        return olive_fail(OLIVE_EFORMAT,
                          "the adapter's LoRA layer '%s' maps %lld to %lld features, but the base "
                          "model's '%s.weight' maps %lld to %lld",
                          module, (long long)ly->in, (long long)ly->out, module, (long long)in, (long long)out);
    d->lora_used[ly - d->lora->layers] = 1;
    if (!(a = cvt_str(d, "%s.lora_A.weight", module)) || !(b = cvt_str(d, "%s.lora_B.weight", module)) ||
        !(xa = cvt_str(d, "%s/lora_A/MatMul", path)) || !(xab = cvt_str(d, "%s/lora_B/MatMul", path)) ||
        !(sum = cvt_str(d, "%s/lora/Add", path)) || !(rank = cvt_str(d, "%s.lora_rank", module)))
        return OLIVE_ENOMEM;
    /* a rank dimension of its own per layer: adapters may use another rank on each */
    OLIVE_TRY(add_input(d, a, rank, in, 0, 0));
    OLIVE_TRY(add_input(d, b, rank, 0, out, 1));
    OLIVE_TRY(cvt_node(d, "MatMul", "", xa, 2, (const char *[]){x, a}, 1, NULL, &xa));
    OLIVE_TRY(cvt_node(d, "MatMul", "", xab, 2, (const char *[]){xa, b}, 1, NULL, &xab));
    return cvt_node(d, "Add", "", sum, 2, (const char *[]){*y, xab}, 1, NULL, y);
}

int cvt_lora_check_used(cvt_decoder *d)
{
    for (size_t i = 0; d->lora && i < d->lora->n_layers; i++)
        if (!d->lora_used[i])
            return olive_fail(OLIVE_ENOTFOUND,
                              "the adapter's LoRA layer '%s' matches no Linear layer the converter "
                              "builds from the base model (%s, %lld layers built)",
                              d->lora->layers[i].module, d->arch->architecture, (long long)d->n_layers);
    return OLIVE_OK;
}
