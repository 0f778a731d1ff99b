/* libolive — LoRA adapters for ONNX Runtime GenAI.
 *
 * An adapter trained with PEFT (a folder with adapter_config.json and adapter_model.safetensors)
 * becomes ONNX Runtime's adapter file (.onnx_adapter), which ONNX Runtime GenAI loads at run
 * time (OgaLoadAdapter / onnxruntime_genai.Adapters) on top of a base model converted with the
 * convert pass's `adapter` parameter (`olive generate-adapter`): that model takes each LoRA
 * layer's two matrices as inputs, so one base serves any number of adapters, switched per
 * request. The parameters are named after the base checkpoint's modules:
 *   <module>.lora_A.weight  [in, r]        A transposed
 *   <module>.lora_B.weight  [r, out]       B transposed and multiplied by lora_alpha / r
 *                                          (lora_alpha / sqrt(r) with use_rslora)
 * e.g. model.layers.0.self_attn.q_proj.lora_A.weight.
 */
#ifndef OLIVE_ADAPTER_H
#define OLIVE_ADAPTER_H

#include "olive/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Converts the PEFT LoRA adapter in `adapter_folder` to the adapter file `output_file`
 * (written atomically; an existing file is never replaced). `options` is NULL or
 * space-separated key=value settings:
 *   dtype=float32|float16   the parameters' type: the base model's input/output type (default
 *                           float32)
 *   base=FOLDER             a Hugging Face checkpoint the adapter must fit: every LoRA module
 *                           exists there as a Linear weight of shape [out, in] (a path with
 *                           spaces goes in double quotes, '"' and '\' escaped with '\')
 * Errors: OLIVE_ENOTFOUND (no adapter_config.json / adapter_model.safetensors; a module the base
 * lacks, named), OLIVE_EUNSUPPORTED (peft_type other than LORA, DoRA, LoRA on embeddings,
 * rank_pattern), OLIVE_EFORMAT (tensors without their pair, shapes that disagree with r or the
 * base, named), OLIVE_EEXISTS (output_file exists), OLIVE_EINVALID (an unknown option or
 * value), OLIVE_EIO, OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_adapter_convert(const char *adapter_folder, const char *output_file,
                                                    const char *options);

#ifdef __cplusplus
}
#endif

#endif
