/* Olive's checkpoint-side quantization chain, SelectiveMixedPrecision → Gptq → Rtn →
 * ModelBuilder: SelectiveMixedPrecision and Rtn change no graph here; their settings become the
 * quantization plan of the convert pass that follows (its quant_plan parameter, decoder_plan.h)
 * and their slots leave the workflow. A Gptq among them moves right after the convert pass: the
 * plan leaves it the Linears it quantized in Olive (all but the head) as float MatMuls, with
 * their planned bits in the converted model's metadata. The plan merges as Olive merges the
 * mixed precision info: the selection's defaults win over Rtn's and Gptq's settings, Rtn's
 * overrides win over the selection. For a model with float16 activations (int4/int8 on cuda, dml
 * or webgpu) the Gptq slot leaves the workflow too: its values join the plan's GPTQ part and the
 * convert pass calibrates a float32 CPU copy of the model (convert.h's gptq_calibration_data).
 * A Gptq alone before the convert pass is such a chain too, its plan the builder's settings.
 * A Quarot before them (or right before the convert pass) becomes the convert pass's rotate_mode
 * and rotate_seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/calibrate/gptq_pass.h"
#include "passes/checkpoint_quant/checkpoint_quant.h"
#include "passes/convert/convert.h"
#include "passes/instance.h"
#include "workflow/evaluator.h"
#include "workflow/workflow.h"

static int is_plan_pass(const wf_slot *s)
{
    const olive_pass_def *def = s->n_choices ? s->choices[0].pass->def : NULL;
    return def == &olive_pass_selective_mixed_precision || def == &olive_pass_checkpoint_rtn;
}

static const char *arg(const olive_pass *p, const char *key)
{
    const char *v = "";
    (void)olive_pass_instance_get(p, key, &v);
    return v;
}

static int check_bits(const char *slot, const char *key, const char *value)
{
    if (strcmp(value, "4") && strcmp(value, "8"))
        return olive_fail(OLIVE_EINVALID, "passes.%s.%s: %s bits: MatMulNBits takes 4 or 8 here", slot, key, value);
    return OLIVE_OK;
}

/* Olive's rules by layer position, under their first names (k_quant_*) and newer ones. */
static int is_rule(const char *alg)
{
    return !strncmp(alg, "k_quant_", 8) || !strcmp(alg, "high_precision_lm_head") ||
           !strcmp(alg, "high_precision_mlp_down") || !strcmp(alg, "high_precision_mlp_down_qkv");
}

/* A scored algorithm needs its ratio; kld_gradient its calibration data too. */
static int check_algorithm(const wf_slot *s)
{
    const char *alg = arg(s->choices[0].pass, "algorithm");
    if (s->choices[0].pass->def != &olive_pass_selective_mixed_precision)
        return OLIVE_OK;
    if (!strcmp(alg, "kld_gradient") && !arg(s->choices[0].pass, "calibration_data")[0])
        return olive_fail(OLIVE_EINVALID,
                          "passes.%s.algorithm: kld_gradient needs calibration data: give the pass a data_config "
                          "(Olive's default, wikitext-2 from the Hub, applies to an HfModel input only)",
                          s->name);
    if (!is_rule(alg)) {
        olive_pass_args a = olive_pass_args_of(s->choices[0].pass);
        double ratio = olive_args_float(&a, "ratio");
        if (!(ratio > 0 && ratio < 1))
            return olive_fail(OLIVE_EINVALID,
                              "passes.%s.ratio: %s needs a ratio between 0 and 1 (the share of "
                              "parameters kept at bits)",
                              s->name, alg);
    }
    return OLIVE_OK;
}

/* SelectiveMixedPrecision's part of the plan: its default bits and its rule (kld_gradient's
 * data goes to the convert pass `conv`, which scores). */
static int add_selection(json_t *plan, const wf_slot *s, olive_pass *conv)
{
    const olive_pass *p = s->choices[0].pass;
    const char *alg = arg(p, "algorithm");
    OLIVE_TRY(check_algorithm(s));
    OLIVE_TRY(check_bits(s->name, "bits", arg(p, "bits")));
    if (!strcmp(alg, "kld_gradient")) {
        int rc = olive_pass_instance_set(conv, "selection_data", arg(p, "calibration_data"));
        if (rc != OLIVE_OK)
            return olive_fail_context(rc, "passes.%s", s->name);
    }
    OLIVE_TRY(check_bits(s->name, "high_bits", arg(p, "high_bits")));
    if (json_object_set_new(plan, "bits", json_integer(strcmp(arg(p, "bits"), "8") ? 4 : 8)) ||
        json_object_set_new(
            plan, "selective",
            json_pack("{s:s, s:i}", "algorithm", alg, "high_bits", strcmp(arg(p, "high_bits"), "8") ? 4 : 8)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if (!is_rule(alg)) {
        /* Olive's scored default is bits, group_size and symmetric, all winning over Rtn's. */
        olive_pass_args a = olive_pass_args_of(p);
        const char *hs = arg(p, "high_sym");
        const int64_t group = olive_args_int(&a, "group_size"), high_group = olive_args_int(&a, "high_group_size");
        const int sym = olive_args_bool(&a, "sym");
        json_t *sel = json_object_get(plan, "selective");
        if (strcmp(hs, "") && strcmp(hs, "true") && strcmp(hs, "false"))
            return olive_fail(OLIVE_EINVALID, "passes.%s.high_sym: expected true, false or null", s->name);
        for (int i = 0; i < 2; i++) {
            int64_t g = i ? (high_group ? high_group : group) : group;
            if (g < 16 || g > 256 || (g & (g - 1)))
                return olive_fail(OLIVE_EINVALID,
                                  "passes.%s.%s: %lld is not a MatMulNBits block size (16, 32, 64, 128 or 256; "
                                  "per-channel -1 and per-tensor 0 are not supported)",
                                  s->name, i ? "high_group_size" : "group_size", (long long)g);
        }
        if (json_object_set_new(sel, "ratio", json_real(olive_args_float(&a, "ratio"))) ||
            json_object_set_new(sel, "group_size", json_integer(group)) ||
            json_object_set_new(sel, "high_group_size", json_integer(high_group ? high_group : group)) ||
            json_object_set_new(sel, "symmetric", json_boolean(sym)) ||
            json_object_set_new(sel, "high_symmetric", json_boolean(*hs ? !strcmp(hs, "true") : sym)) ||
            json_object_set_new(plan, "group_size", json_integer(group)) ||
            json_object_set_new(plan, "symmetric", json_boolean(sym)))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    return OLIVE_OK;
}

/* Rtn's part: its settings under the selection's bits, its overrides over the selection. */
static int add_rtn(json_t *plan, const wf_slot *s, int have_selection)
{
    const olive_pass *p = s->choices[0].pass;
    const char *ov = arg(p, "overrides");
    json_t *overrides = NULL;
    json_error_t err;
    OLIVE_TRY(check_bits(s->name, "bits", arg(p, "bits")));
    if (*ov && !(overrides = json_loads(ov, 0, &err)))
        return olive_fail(OLIVE_EINVALID, "passes.%s.overrides: not JSON: %s", s->name, err.text);
    if (overrides && !json_is_object(overrides)) {
        json_decref(overrides);
        return olive_fail(OLIVE_EINVALID, "passes.%s.overrides: expected an object of module names", s->name);
    }
    if ((!have_selection && json_object_set_new(plan, "bits", json_integer(strcmp(arg(p, "bits"), "8") ? 4 : 8))) ||
        (!json_object_get(plan, "group_size") &&
         json_object_set_new(plan, "group_size",
                             json_integer(olive_args_int(&(olive_pass_args){p->def, p->values}, "group_size")))) ||
        (!json_object_get(plan, "symmetric") &&
         json_object_set_new(plan, "symmetric", json_boolean(!strcmp(arg(p, "sym"), "true")))) ||
        json_object_set_new(plan, "lm_head", json_boolean(!strcmp(arg(p, "lm_head"), "true"))) ||
        json_object_set_new(plan, "embeds", json_boolean(!strcmp(arg(p, "embeds"), "true"))) ||
        (overrides && json_object_set_new(plan, "overrides", overrides))) {
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    return OLIVE_OK;
}

/* Without Rtn, the selection quantizes as the ModelBuilder asks: its block size, symmetry and
 * head (which the builder quantizes in int4/int8; Olive's Gptq leaves it float). */
static int add_builder_defaults(json_t *plan, const olive_pass *convert, int with_gptq)
{
    olive_pass_args a = olive_pass_args_of(convert);
    int64_t bs = olive_args_int(&a, "int4_block_size") > 0 ? olive_args_int(&a, "int4_block_size")
                                                           : olive_args_int(&a, "block_size");
    if (!json_object_get(plan, "bits") &&
        json_object_set_new(plan, "bits", json_integer(!strcmp(arg(convert, "precision"), "int8") ? 8 : 4)))
        return OLIVE_ENOMEM;
    if ((!json_object_get(plan, "group_size") && json_object_set_new(plan, "group_size", json_integer(bs))) ||
        (!json_object_get(plan, "symmetric") &&
         json_object_set_new(plan, "symmetric", json_boolean(olive_args_bool(&a, "is_symmetric")))) ||
        json_object_set_new(plan, "lm_head", json_boolean(!with_gptq)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    return OLIVE_OK;
}

static void drop_slot(olive_workflow *w, size_t i)
{
    wf_slot *s = &w->slots[i];
    for (size_t j = 0; j < s->n_choices; j++) {
        free(s->choices[j].olive_type);
        olive_pass_unref(s->choices[j].pass);
        json_decref(s->choices[j].search);
        if (s->choices[j].evaluator) {
            wf_evaluator_clear(s->choices[j].evaluator);
            free(s->choices[j].evaluator);
        }
    }
    free(s->choices);
    free(s->name);
    memmove(s, s + 1, (w->n_slots - i - 1) * sizeof *s);
    w->n_slots--;
}

static int is_gptq(const wf_slot *s)
{
    return s->n_choices && s->choices[0].pass->def == &olive_pass_gptq;
}

/* A Gptq slot that only plan passes (or nothing) separate from a convert pass after it: Olive's
 * Gptq → ModelBuilder on a checkpoint, a plan of its own. */
static int gptq_before_convert(const olive_workflow *w, size_t i)
{
    if (!is_gptq(&w->slots[i]))
        return 0;
    for (i++; i < w->n_slots && (is_plan_pass(&w->slots[i]) || is_gptq(&w->slots[i])); i++)
        ;
    return i < w->n_slots && w->slots[i].n_choices && w->slots[i].choices[0].pass->def == &olive_pass_convert;
}

/* GPTQ's part: it runs after the conversion on the float Linears the plan leaves it, each with
 * its planned bits (the selection's default bits win over Gptq's, as Olive merges them). */
static int add_gptq(json_t *plan, const wf_slot *s, int have_selection)
{
    olive_pass *p = s->choices[0].pass;
    olive_pass_args a = olive_pass_args_of(p);
    const json_t *bits = json_object_get(plan, "bits"), *sel = json_object_get(plan, "selective");
    const int scored = sel && json_object_get(sel, "ratio");
    /* The selection's defaults win over Gptq's: bits, and for a score group size and symmetry. */
    const int b = have_selection && bits ? (int)json_integer_value(bits) : (int)olive_args_int(&a, "bits");
    const json_int_t group = scored ? json_integer_value(json_object_get(sel, "group_size"))
                                    : (json_int_t)olive_args_int(&a, "group_size");
    const int sym = scored ? json_is_true(json_object_get(sel, "symmetric")) : olive_args_bool(&a, "sym");
    json_t *g;
    char text[3][24];
    int rc = OLIVE_OK;
    if (scored && json_is_true(json_object_get(sel, "high_symmetric")) != sym)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "passes.%s: Gptq takes one symmetry for every MatMul, and the selection gives the promoted "
                          "modules another (high_sym)",
                          s->name);
    if (!(g = json_pack("{s:i, s:I, s:b, s:b}", "bits", b, "group_size", group, "symmetric", sym, "lm_head",
                        olive_args_bool(&a, "lm_head"))) ||
        json_object_set_new(plan, "gptq", g))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    snprintf(text[0], sizeof text[0], "%d", b);
    snprintf(text[1], sizeof text[1], "%lld", (long long)group);
    snprintf(text[2], sizeof text[2], "%s", sym ? "true" : "false");
    if ((rc = olive_pass_instance_set(p, "bits", text[0])) != OLIVE_OK ||
        (rc = olive_pass_instance_set(p, "group_size", text[1])) != OLIVE_OK ||
        (rc = olive_pass_instance_set(p, "sym", text[2])) != OLIVE_OK)
        return olive_fail_context(rc, "passes.%s", s->name);
    return OLIVE_OK;
}

/* int4/int8 decoders have float16 activations on every provider but the CPU (or those an
 * io_dtype names), which GPTQ does not calibrate: there the convert pass runs it on a float32
 * CPU copy itself. */
static int float16_target(const olive_workflow *w, const olive_pass *convert)
{
    const char *io = "";
    if (olive_param_find(convert->def, "io_dtype") && olive_pass_instance_get(convert, "io_dtype", &io) == OLIVE_OK &&
        io[0] && strcmp(io, "auto"))
        return strcmp(io, "fp32") != 0;
    return strcmp(olive_convert_provider(arg(convert, "execution_provider"), w->acc), "cpu") != 0;
}

/* The Gptq pass's values into the plan's GPTQ part ("settings"), its calibration folder into the
 * convert pass's gptq_calibration_data: the convert pass runs it. */
static int add_gptq_settings(json_t *plan, const olive_pass *gptq, olive_pass *convert, const char *convert_slot)
{
    json_t *settings = json_object();
    int rc;
    if (!settings || json_object_set_new(json_object_get(plan, "gptq"), "settings", settings))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    for (size_t i = 0; i < gptq->def->n_params; i++) {
        const char *name = gptq->def->params[i].name;
        if (gptq->def->params[i].data_folder)
            continue;
        if (json_object_set_new(settings, name, json_string(gptq->values[i])))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    if ((rc = olive_pass_instance_set(convert, "gptq_calibration_data", arg(gptq, "calibration_data"))) != OLIVE_OK)
        return olive_fail_context(rc, "passes.%s", convert_slot);
    return OLIVE_OK;
}

/* Removes slots [first, end) except `keep` (moved, not freed, into *kept). */
static void take_run(olive_workflow *w, size_t first, size_t end, size_t keep, wf_slot *kept)
{
    for (size_t i = end; i-- > first;) {
        if (i == keep) {
            *kept = w->slots[i];
            memmove(&w->slots[i], &w->slots[i + 1], (w->n_slots - i - 1) * sizeof *w->slots);
            w->n_slots--;
        } else {
            drop_slot(w, i);
        }
    }
}

/* Quarot: its seed and rotate_mode become the rotate_seed and rotate_mode of the convert pass
 * after it (plan passes and one Gptq may stand between), and its slot leaves the workflow. */
static int fold_rotation(olive_workflow *w)
{
    size_t q = 0, end;
    const olive_pass *p;
    olive_pass *conv;
    int rc;
    for (; q < w->n_slots && !(w->slots[q].n_choices && w->slots[q].choices[0].pass->def == &olive_pass_quarot); q++)
        ;
    if (q == w->n_slots)
        return OLIVE_OK;
    if (w->n_flows)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "passes.%s: Quarot with pass_flows is not supported: list the passes in "
                          "order instead",
                          w->slots[q].name);
    if (w->slots[q].n_choices != 1 || w->slots[q].choices[0].search)
        return olive_fail(OLIVE_EUNSUPPORTED, "passes.%s: Quarot cannot be searched or given alternatives here",
                          w->slots[q].name);
    for (end = q + 1;
         end < w->n_slots && w->slots[end].n_choices == 1 && (is_plan_pass(&w->slots[end]) || is_gptq(&w->slots[end]));
         end++)
        ;
    if (end == w->n_slots || w->slots[end].n_choices != 1 || w->slots[end].choices[0].pass->def != &olive_pass_convert)
        return olive_fail(OLIVE_EINVALID,
                          "passes.%s: Quarot rotates a checkpoint while it is converted: a ModelBuilder or "
                          "OnnxConversion pass must follow it (with only SelectiveMixedPrecision, Rtn or Gptq "
                          "between)",
                          w->slots[q].name);
    for (size_t i = end + 1; i < w->n_slots; i++)
        if (w->slots[i].n_choices && w->slots[i].choices[0].pass->def == &olive_pass_quarot)
            return olive_fail(OLIVE_EINVALID, "passes.%s: one Quarot before the conversion", w->slots[i].name);
    p = w->slots[q].choices[0].pass;
    conv = w->slots[end].choices[0].pass;
    if ((rc = olive_pass_instance_set(conv, "rotate_mode", arg(p, "rotate_mode"))) != OLIVE_OK ||
        (rc = olive_pass_instance_set(conv, "rotate_seed", arg(p, "seed"))) != OLIVE_OK)
        return olive_fail_context(rc, "passes.%s", w->slots[end].name);
    OLIVE_DEBUG("passes.%s: rotate_mode %s, rotate_seed %s", w->slots[end].name, arg(p, "rotate_mode"), arg(p, "seed"));
    drop_slot(w, q);
    return OLIVE_OK;
}

/* Olive's OnnxConversion after the plan exports the quantized torch model: int4/int8 MatMulNBits
 * weights (the plan says which), with activations in its torch_dtype. */
static int plan_onnx_conversion(const wf_slot *conv)
{
    olive_pass *p = conv->choices[0].pass;
    const char *precision = arg(p, "precision");
    char dtype[8];
    int rc;
    if (strcasecmp(conv->choices[0].olive_type, "OnnxConversion") || !strcmp(precision, "int4") ||
        !strcmp(precision, "int8"))
        return OLIVE_OK;
    snprintf(dtype, sizeof dtype, "%s", precision);
    if ((rc = olive_pass_instance_set(p, "io_dtype", dtype)) != OLIVE_OK ||
        (rc = olive_pass_instance_set(p, "precision", "int4")) != OLIVE_OK)
        return olive_fail_context(rc, "passes.%s", conv->name);
    OLIVE_DEBUG("passes.%s: the quantization plan's weights, activations in %s", conv->name, dtype);
    return OLIVE_OK;
}

int wf_fold_checkpoint_quant(olive_workflow *w)
{
    size_t first = 0, end, gptq = (size_t)-1, conv_at;
    json_t *plan;
    const wf_slot *conv;
    char *text;
    int rc = OLIVE_OK, have_selection = 0, have_rtn = 0, gptq_inside = 0;
    OLIVE_TRY(fold_rotation(w));
    for (; first < w->n_slots && !is_plan_pass(&w->slots[first]) && !gptq_before_convert(w, first); first++)
        ;
    if (first == w->n_slots)
        return OLIVE_OK;
    if (w->n_flows)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "passes.%s: %s with pass_flows is not supported: list the passes in "
                          "order instead",
                          w->slots[first].name, w->slots[first].choices[0].olive_type);
    /* The plan passes (and one Gptq among them) run together, right before the convert pass
     * they plan for. */
    for (end = first; end < w->n_slots && (is_plan_pass(&w->slots[end]) || is_gptq(&w->slots[end])); end++) {
        if (w->slots[end].n_choices != 1 || w->slots[end].choices[0].search)
            return olive_fail(OLIVE_EUNSUPPORTED, "passes.%s: %s cannot be searched or given alternatives here",
                              w->slots[end].name, w->slots[end].choices[0].olive_type);
        OLIVE_TRY(check_algorithm(&w->slots[end]));
        if (is_gptq(&w->slots[end])) {
            if (gptq != (size_t)-1)
                return olive_fail(OLIVE_EINVALID, "passes.%s: one Gptq before ModelBuilder", w->slots[end].name);
            /* An HfModel input got Olive's default data when the config was read. */
            if (!arg(w->slots[end].choices[0].pass, "calibration_data")[0])
                return olive_fail(OLIVE_EINVALID,
                                  "passes.%s: Gptq needs calibration data: give it a data_config (Olive's default, "
                                  "wikitext-2 from the Hub, applies to an HfModel input only)",
                                  w->slots[end].name);
            gptq = end;
        }
    }
    if (end == w->n_slots || w->slots[end].n_choices != 1 || w->slots[end].choices[0].pass->def != &olive_pass_convert)
        return olive_fail(OLIVE_EINVALID,
                          "passes.%s: %s plans how a checkpoint is quantized: a ModelBuilder pass must follow it",
                          w->slots[first].name, w->slots[first].choices[0].olive_type);
    conv = &w->slots[end];
    OLIVE_TRY(plan_onnx_conversion(conv));
    for (size_t i = end + 1; i < w->n_slots; i++)
        if (is_plan_pass(&w->slots[i]))
            return olive_fail(OLIVE_EINVALID, "passes.%s: %s must come before ModelBuilder", w->slots[i].name,
                              w->slots[i].choices[0].olive_type);
    if (strcmp(arg(conv->choices[0].pass, "precision"), "int4") &&
        strcmp(arg(conv->choices[0].pass, "precision"), "int8"))
        return olive_fail(OLIVE_EINVALID, "passes.%s: the quantization plan of passes.%s needs precision int4 or int8",
                          conv->name, w->slots[first].name);
    if (!(plan = json_object()))
        return OLIVE_ENOMEM;
    for (size_t i = first; i < end && rc == OLIVE_OK; i++) {
        const wf_slot *s = &w->slots[i];
        if (i == gptq)
            continue;
        if (s->choices[0].pass->def == &olive_pass_selective_mixed_precision) {
            if (have_selection || have_rtn)
                rc = olive_fail(OLIVE_EINVALID, "passes.%s: one SelectiveMixedPrecision, before Rtn", s->name);
            else
                rc = add_selection(plan, s, conv->choices[0].pass);
            have_selection = 1;
        } else {
            if (have_rtn)
                rc = olive_fail(OLIVE_EINVALID, "passes.%s: one Rtn before ModelBuilder", s->name);
            else
                rc = add_rtn(plan, s, have_selection);
            have_rtn = 1;
        }
    }
    if (rc == OLIVE_OK && gptq != (size_t)-1)
        rc = add_gptq(plan, &w->slots[gptq], have_selection);
    gptq_inside = gptq != (size_t)-1 && float16_target(w, conv->choices[0].pass);
    if (rc == OLIVE_OK && gptq_inside)
        rc = add_gptq_settings(plan, w->slots[gptq].choices[0].pass, conv->choices[0].pass, conv->name);
    if (rc == OLIVE_OK && !have_rtn)
        rc = add_builder_defaults(plan, conv->choices[0].pass, gptq != (size_t)-1);
    text = rc == OLIVE_OK ? json_dumps(plan, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(plan);
    if (rc != OLIVE_OK)
        return rc;
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    OLIVE_DEBUG("passes.%s: quant_plan %s", conv->name, text);
    rc = olive_pass_instance_set(conv->choices[0].pass, "quant_plan", text);
    free(text);
    if (rc != OLIVE_OK)
        return olive_fail_context(rc, "passes.%s", conv->name);
    if (gptq == (size_t)-1 || gptq_inside) {
        while (end-- > first)
            drop_slot(w, first);
        return OLIVE_OK;
    }
    {
        /* Gptq moves after the conversion, onto the graph it makes. */
        wf_slot kept;
        take_run(w, first, end, gptq, &kept);
        conv_at = first;
        memmove(&w->slots[conv_at + 2], &w->slots[conv_at + 1], (w->n_slots - conv_at - 1) * sizeof *w->slots);
        w->slots[conv_at + 1] = kept;
        w->n_slots++;
    }
    return OLIVE_OK;
}
