/* GPTQ for a decoder with float16 activations (int4/int8 on cuda, dml, webgpu). The gptq pass
 * calibrates float32 graphs through ONNX Runtime's CPU provider, which cannot run the float16
 * graph (float16 activations, CUDA-only operators). Olive quantizes the checkpoint's float
 * weights with GPTQ before ModelBuilder converts them; here likewise the Linears are quantized
 * on a float32 CPU twin of the model (the same checkpoint, rotation and plan, converted for cpu
 * with the target's q/k/v packing) by the gptq pass itself, and the float16 build then writes
 * each Linear the plan left to GPTQ as MatMulNBits with the twin's codes, zero points and
 * tensor names, its scales rounded to float16. Only the GPTQ results outlive the twin: its
 * weights stay in its own spill file, removed with it. */
#ifndef OLIVE_PASSES_CONVERT_DECODER_GPTQ_TWIN_H
#define OLIVE_PASSES_CONVERT_DECODER_GPTQ_TWIN_H

#include "formats/checkpoint.h"
#include "passes/convert/decoder.h"

typedef struct cvt_gptq_result cvt_gptq_result;

/* 1 when a build with these options needs the twin: a quant_plan with a GPTQ part and float16
 * activations. Errors of cvt_plan_parse (the plan is read again by the build). */
int cvt_gptq_twin_needed(const cvt_decoder *d, int *needed);

/* Converts the twin (args with execution_provider cpu, disable_qkv_fusion when `separate_qkv`)
 * and runs the gptq pass on it with the plan's "gptq" "settings" and args' gptq_calibration_data,
 * progress mapped into [from, to] of ctx's. *out gets the result (free with
 * cvt_gptq_result_free). Errors: OLIVE_EINVALID (no calibration data, a setting the gptq pass
 * refuses), those of the conversion and of the gptq pass. */
int cvt_gptq_twin_run(cvt_gptq_result **out, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch,
                      const olive_pass_args *args, int separate_qkv, olive_pass_ctx *ctx, double from, double to);

/* Writes Linear `path` (float MatMul "<path>/MatMul" in the twin, [in, cols]) as the twin's
 * MatMulNBits when GPTQ quantized it (*done 1), the result's tensors then released; *done 0
 * when GPTQ left it float. Errors: OLIVE_EFORMAT (shapes differ), OLIVE_ENOMEM, OLIVE_EIO. */
int cvt_gptq_linear(cvt_decoder *d, const char *path, const char *x, int64_t in, int64_t cols, int *done,
                    const char **out);

/* OLIVE_EINTERNAL naming a result no Linear of the float16 graph took, else OLIVE_OK. */
int cvt_gptq_result_check_used(const cvt_gptq_result *r);
void cvt_gptq_result_free(cvt_gptq_result *r);

#endif
