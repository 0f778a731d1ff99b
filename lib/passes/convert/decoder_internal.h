/* Internals of the decoder builder shared by its files (not for architecture hooks). */
#ifndef OLIVE_PASSES_CONVERT_DECODER_INTERNAL_H
#define OLIVE_PASSES_CONVERT_DECODER_INTERNAL_H

#include "passes/convert/decoder.h"
#include "kernels/blockwise.h"

/* An initializer whose bytes are in the spill file, given its blob once all are written. */
struct cvt_pending {
    oir_tensor *tensor;
    uint64_t offset, nbytes;
};

/* Bytes per element of float, float16, bfloat16. */
size_t cvt_dtype_size(int32_t dtype);
/* Converts n floats to dtype (float, float16, bfloat16) into dst. */
void cvt_convert_f32(int32_t dtype, const float *src, size_t n, void *dst);
/* Adds initializer `name` whose bytes get a region of the spill file (*offset). */
int cvt_spill_tensor(cvt_decoder *d, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                     uint64_t *offset);
/* Reports the current progress again between bands of a large weight, so that a request to
 * stop is seen within a band. */
int cvt_check_cancel(cvt_decoder *d);
/* Maps the spill file and gives every spilled initializer its bytes. */
int cvt_finish_tensors(cvt_decoder *d);
/* "/model/layers.0/attn/qkv_proj" -> "model.layers.0.attn.qkv_proj" (builder-owned). */
const char *cvt_path_to_dots(cvt_decoder *d, const char *path);

/* Where layer `layer`'s projection `which` is: the architecture's weight_rows hook, else
 * `name` (checked to be [out, in]), all rows. */
int cvt_proj_rows(cvt_decoder *d, int64_t layer, cvt_proj which, const char *name, int64_t out, int64_t in,
                  cvt_rows *rows);

/* Rows [first, first + count) of a checkpoint Linear weight [rows, in], and what a rotation
 * (decoder_rotate.h) does to them: `mem` holds the rows already turned on their output side
 * (read from there instead of t), `norm` is folded into each row and `pre` turns it. */
struct cvt_orth;
typedef struct cvt_linear_src {
    const ofmt_tensor *t;
    int64_t first, count;
    float *mem, *norm; /* owned; NULL when not rotating that way */
    const struct cvt_orth *pre;
} cvt_linear_src;

/* With a rotation (d->rot): sets the parts' mem, norm and pre for Linear `path` from their
 * checkpoint names (the head is path "/lm_head"). Memory: a part turned on its output side
 * (o_proj, down_proj, v_proj's heads) is held whole. OLIVE_EUNSUPPORTED names a weight the
 * rotation has no rule for. cvt_rotate_parts_free releases them (also after an error). */
int cvt_rotate_parts(cvt_decoder *d, const char *path, cvt_linear_src *src, size_t n, int64_t in);
void cvt_rotate_parts_free(cvt_linear_src *src, size_t n);
/* Folds the norm into and turns rows [rows, in] of a band read from src. OLIVE_ENOMEM. */
int cvt_rotate_band(const cvt_linear_src *src, float *band, int64_t rows, int64_t in);
/* 1 when norm weight `tensor` is folded into the Linears after it (it becomes ones). */
int cvt_rotate_folds_norm(const cvt_decoder *d, const char *tensor);
/* The bias of Linear `path` turned as its rows are (o_proj, down_proj). OLIVE_ENOMEM. */
int cvt_rotate_bias(const cvt_decoder *d, const char *path, float *bias, int64_t n);
/* Embedding rows [rows, hidden] turned by R1. OLIVE_ENOMEM. */
int cvt_rotate_embedding(const cvt_decoder *d, float *rows, int64_t n_rows);

/* The MatMulNBits initializers of checkpoint matrix `part` ([rows, in]) quantized as *mq, named
 * "<dots>.MatMul.weight_Q<bits>", "<dots>.MatMul.weight_scales" and (asymmetric)
 * "<dots>.MatMul.weight_zero_points" (*zn NULL when symmetric); no node. */
struct cvt_module_quant;
/* The names of module `dots`' quantized tensors with settings *mq (the codes, the scales, the
 * zero points or NULL when symmetric), as ONNX Runtime's quantizer for the options' algorithm
 * names them. Errors: OLIVE_ENOMEM. */
struct cvt_module_quant;
int cvt_quant_tensor_names(cvt_decoder *d, const char *dots, const struct cvt_module_quant *mq, const char **qn,
                           const char **sn, const char **zn);
int cvt_quantized_matrix(cvt_decoder *d, const char *dots, const cvt_rows *part, int64_t in,
                         const struct cvt_module_quant *mq, const char **qn, const char **sn, const char **zn);

/* Adds the MatMulNBits node of Linear `path` on x (nothing when x is NULL) with weight `qn`,
 * scales `sn` and zero points `zn` (NULL: none), as the float MatMul's output name. */
int cvt_matmulnbits_node(cvt_decoder *d, const char *path, const char *x, const char *qn, const char *sn,
                         const char *zn, int64_t in, int64_t cols, int bits, int block_size, const char **out);

/* Linear `path` (dots: its initializer prefix) from the GGUF blocks of its parts, kept as they
 * are stored (decoder_carry.c). Sets *carried to 1 when it wrote the weight (and the node on
 * x), to 0 when a part is not a GGML type with codes (the caller quantizes the float values). */
int cvt_linear_carried(cvt_decoder *d, const char *path, const char *dots, const char *x, const cvt_linear_src *src,
                       size_t n, int64_t in, int64_t cols, const char **out, int *carried);

/* A band of `rows` Linear weight rows of `in` values, each quantized as one MatMulNBits
 * channel: codes [rows, k_blocks, blob], scales [rows, k_blocks], zero points [rows, zp bytes]
 * (NULL when symmetric). */
typedef struct cvt_quant_band {
    const olive_blockq *q;
    const float *values;
    int64_t rows, in;
    int kquant_in_order; /* k_quant: the weight has one block per channel (kquant_block.h) */
    uint8_t *codes, *scales, *zps;
} cvt_quant_band;

/* Quantizes a band over the online cores (decoder_quant.c). Returns 0, or -1 with the first
 * non-finite value's row and column (nothing else is meaningful then). */
int cvt_quantize_band(const cvt_quant_band *b, int64_t *bad_row, size_t *bad_col);

/* The float Linear weights of a build ("<dots>.MatMul.weight", [in, cols]) and the checkpoint
 * rows each holds, for the kld_gradient selection (decoder_kld.c): a part's rows are the
 * weight's columns [col0, col0 + count). `head` marks the LM head's (which tied embeddings read
 * too). Names are owned by the log. */
typedef struct cvt_float_part {
    const ofmt_tensor *t;
    int64_t first, count, col0;
} cvt_float_part;
typedef struct cvt_float_weight {
    char *name;
    int64_t in, cols;
    int head;
    size_t n_parts;
    cvt_float_part parts[8];
} cvt_float_weight;
typedef struct cvt_float_log {
    cvt_float_weight *w;
    size_t n, cap;
} cvt_float_log;
void cvt_float_log_clear(cvt_float_log *log);

/* Builds the float32 CPU graph of checkpoint ck (the options' defaults: every layer, no
 * quantization, rotation or adapters) into m, recording its float Linear weights in *log. */
int cvt_decoder_build_float(oir_model *m, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch, olive_pass_ctx *ctx,
                            cvt_float_log *log);

#endif
