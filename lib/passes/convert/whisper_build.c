/* The Whisper builder's entry (see whisper.h): checks the pass parameters and both configs
 * first, builds the encoder into a model of its own and saves it to a temporary folder (its
 * files then travel as companions of the decoder, mapped, the folder removed at once), then
 * builds the decoder into the pass's model and adds the runtime configs. The weights of each
 * model pass through a spill file one tensor at a time (core/spill.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/blob.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "onnx/onnx_io.h"
#include "passes/convert/whisper_internal.h"

/* Parameters of the convert pass that only decoders use: refused unless at their defaults. */
static int check_args(const olive_pass_args *args, int32_t *dtype, int *bits)
{
    static const char *const flags[] = {"exclude_embeds", "exclude_lm_head", "include_hidden_states"};
    static const char *const strings[] = {"adapter_path", "quant_plan"};
    const char *p = "";

    *dtype = OIR_FLOAT;
    *bits = 0;
    if (!args || !args->def)
        return OLIVE_OK;
    if (olive_param_find(args->def, "precision"))
        p = olive_args_string(args, "precision");
    if (!strcmp(p, "fp16"))
        *dtype = OIR_FLOAT16;
    else if (!strcmp(p, "int4") || !strcmp(p, "int8"))
        *bits = p[3] - '0';
    else if (p[0] && strcmp(p, "fp32"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "precision '%s' is not supported for Whisper (fp32, fp16, int4 and int8 are)", p);
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (olive_param_find(args->def, flags[i]) && olive_args_bool(args, flags[i]))
            return olive_fail(OLIVE_EUNSUPPORTED, "%s is not supported for Whisper", flags[i]);
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        if (olive_param_find(args->def, strings[i]) && olive_args_string(args, strings[i])[0])
            return olive_fail(OLIVE_EUNSUPPORTED, "%s is not supported for Whisper", strings[i]);
    if (olive_param_find(args->def, "num_hidden_layers") && olive_args_int(args, "num_hidden_layers") > 0)
        return olive_fail(OLIVE_EUNSUPPORTED, "num_hidden_layers is not supported for Whisper");
    return OLIVE_OK;
}

static int prepare(oir_model *m)
{
    OLIVE_TRY(oir_model_require_opset(m, "", 17));
    OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    if (m->ir_version < 8)
        m->ir_version = 8;
    return OLIVE_OK;
}

/* The pass's temp_dir, or NULL. */
static const char *temp_dir(const olive_pass_args *args)
{
    const char *dir = args && args->def && olive_param_find(args->def, "temp_dir") ? olive_args_string(args, "temp_dir")
                                                                                   : NULL;
    return dir && dir[0] ? dir : NULL;
}

/* The folder for temporary files: the pass's temp_dir, else $TMPDIR, else /var/tmp (kept on
 * disk) when writable, else /tmp. */
static const char *temp_root(const olive_pass_args *args)
{
    const char *dir = temp_dir(args);
    if (dir)
        return dir;
    dir = getenv("TMPDIR");
    if (dir && dir[0])
        return dir;
    return access("/var/tmp", W_OK | X_OK) == 0 ? "/var/tmp" : "/tmp";
}

/* Adds file `name` of `folder` as a companion of `m` (mapped), when it exists. */
static int adopt(oir_model *m, const char *folder, const char *name)
{
    char *path = olive_path_join(folder, name);
    olive_blob *blob = NULL;
    int rc;
    if (!path)
        return OLIVE_ENOMEM;
    if (access(path, F_OK) != 0) {
        free(path);
        return OLIVE_OK;
    }
    rc = olive_blob_map_file(&blob, path);
    if (rc == OLIVE_OK)
        rc = oir_model_add_companion_blob(m, name, blob);
    olive_blob_unref(blob);
    free(path);
    return rc;
}

/* Saves `enc` as encoder.onnx (+ encoder.onnx.data) in a fresh temporary folder and makes
 * the files companions of `m`; the folder is removed whatever happens (the mappings stay). */
static int save_encoder(oir_model *m, const oir_model *enc, const olive_pass_args *args)
{
    char *tmpl = olive_asprintf("%s/.olive-whisper-XXXXXX", temp_root(args)), *path = NULL;
    int rc;

    if (!tmpl)
        return OLIVE_ENOMEM;
    if (!mkdtemp(tmpl)) {
        rc = olive_fail_errno(errno, "cannot create a temporary folder", tmpl);
        free(tmpl);
        return rc;
    }
    if (!(path = olive_path_join(tmpl, "encoder.onnx")))
        rc = OLIVE_ENOMEM;
    else
        rc = onnx_save_file(enc, path, NULL);
    if (rc == OLIVE_OK)
        rc = adopt(m, tmpl, "encoder.onnx");
    if (rc == OLIVE_OK)
        rc = adopt(m, tmpl, "encoder.onnx.data");
    olive_rmtree(tmpl);
    free(path);
    free(tmpl);
    return rc;
}

static int build_encoder(oir_model *m, const ofmt_checkpoint *ck, const wh_config *c, int32_t dt, int bits,
                         const olive_pass_args *args, olive_pass_ctx *ctx)
{
    oir_model *enc = oir_model_new();
    wh_build b;
    int rc;

    if (enc && !enc->graph)
        enc->graph = oir_graph_new("whisper_encoder");
    if (!enc || !enc->graph) {
        oir_model_free(enc);
        return OLIVE_ENOMEM;
    }
    memset(&b, 0, sizeof b);
    b.g = enc->graph;
    b.c = *c;
    b.dt = dt;
    b.w = (enc_weights){.ck = ck, .g = enc->graph, .prefix = "model.", .dtype = dt};
    rc = prepare(enc);
    if (rc == OLIVE_OK)
        rc = olive_spill_open(&b.spill, temp_dir(args));
    if (rc == OLIVE_OK)
        rc = wh_encoder(&b, ctx, 0.0, 0.4);
    if (rc == OLIVE_OK)
        rc = wh_finish(&b);
    wh_release(&b);
    /* The quantize pass's own progress would run to the end: it reports none here. */
    if (rc == OLIVE_OK && bits)
        rc = enc_quantize(enc, args, bits, NULL, 0.0);
    if (rc == OLIVE_OK)
        rc = save_encoder(m, enc, args);
    oir_model_free(enc);
    return rc;
}

/* The checkpoint's own files, as they are, and the runtime configs. */
static int companions(oir_model *m, const ofmt_checkpoint *ck, const wh_config *c, const wh_audio *a,
                      const olive_pass_args *args)
{
    static const char *const names[] = {"config.json", "generation_config.json", "preprocessor_config.json"};
    const char *ep = args && args->def && olive_param_find(args->def, "execution_provider")
                         ? olive_args_string(args, "execution_provider")
                         : "cpu";
    char *text = NULL;
    int rc;

    for (size_t i = 0; i < ck->n_copy_files; i++)
        OLIVE_TRY(oir_model_add_companion_file(m, olive_path_basename(ck->copy_files[i]), ck->copy_files[i]));
    for (size_t i = 0; ck->kind == OFMT_HF_FOLDER && i < sizeof names / sizeof *names; i++) {
        char *path = olive_path_join(ck->path, names[i]);
        if (!path)
            return OLIVE_ENOMEM;
        rc = olive_path_check_contained(ck->path, path, names[i]);
        if (rc == OLIVE_OK && access(path, R_OK) == 0)
            rc = oir_model_add_companion_file(m, names[i], path);
        free(path);
        OLIVE_TRY(rc);
    }
    OLIVE_TRY(wh_genai_config(ck, c, ep[0] ? ep : "cpu", &text));
    rc = oir_model_add_companion_text(m, "genai_config.json", text);
    free(text);
    OLIVE_TRY(rc);
    OLIVE_TRY(wh_audio_config(a, &text));
    rc = oir_model_add_companion_text(m, "audio_processor_config.json", text);
    free(text);
    return rc;
}

int cvt_whisper_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    wh_config c;
    wh_audio a;
    wh_build b;
    int32_t dt;
    int bits, rc;

    if (!m || !ck)
        return olive_fail(OLIVE_EINVALID, "cvt_whisper_build: model and checkpoint are required");
    if (!m->graph && !(m->graph = oir_graph_new("whisper_decoder")))
        return OLIVE_ENOMEM;
    if (m->graph->n_nodes || m->graph->n_inputs || m->graph->n_initializers)
        return olive_fail(OLIVE_EINVALID, "cvt_whisper_build: the model's graph is not empty");
    OLIVE_TRY(check_args(args, &dt, &bits));
    OLIVE_TRY(wh_config_read(&c, ck));
    OLIVE_TRY(wh_audio_read(&a, ck, &c));

    OLIVE_TRY(build_encoder(m, ck, &c, dt, bits, args, ctx));
    memset(&b, 0, sizeof b);
    b.g = m->graph;
    b.c = c;
    b.dt = dt;
    b.w = (enc_weights){.ck = ck, .g = m->graph, .prefix = "model.", .dtype = dt};
    OLIVE_TRY(prepare(m));
    OLIVE_TRY(olive_spill_open(&b.spill, temp_dir(args)));
    rc = wh_decoder(&b, ctx, 0.4, bits ? 0.7 : 0.95);
    if (rc == OLIVE_OK)
        rc = wh_finish(&b);
    wh_release(&b);
    OLIVE_TRY(rc);
    OLIVE_TRY(companions(m, ck, &c, &a, args));
    if (bits)
        return enc_quantize(m, args, bits, ctx, 0.7);
    return olive_pass_progress(ctx, 1.0);
}
