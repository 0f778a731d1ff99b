/* The public pass functions: typed getters and parameter types, Olive pass types with their
 * settings. */
#include <olive/olive.h>

#include "check.h"

static void test_typed_getters(void)
{
    olive_pass *p = NULL;
    int64_t i = -1;
    double f = -1;
    int b = -1, type = -1;
    CHECK_RC(olive_pass_new(&p, "quantize"), OLIVE_OK);
    CHECK_RC(olive_pass_set(p, "block_size", "0x20"), OLIVE_OK);
    CHECK_RC(olive_pass_get_int(p, "block_size", &i), OLIVE_OK);
    CHECK(i == 32);
    CHECK_RC(olive_pass_set(p, "is_symmetric", "no"), OLIVE_OK);
    CHECK_RC(olive_pass_get_bool(p, "is_symmetric", &b), OLIVE_OK);
    CHECK(b == 0);
    CHECK_RC(olive_pass_param_type(p, "is_symmetric", &type), OLIVE_OK);
    CHECK(type == OLIVE_PARAM_BOOL);
    CHECK_RC(olive_pass_param_type(p, "algorithm", &type), OLIVE_OK);
    CHECK(type == OLIVE_PARAM_CHOICE);
    CHECK_RC(olive_pass_param_type(p, "op_types_to_quantize", &type), OLIVE_OK);
    CHECK(type == OLIVE_PARAM_LIST);

    /* The wrong type or key leaves the value alone and says why. */
    i = 7;
    CHECK_RC(olive_pass_get_int(p, "is_symmetric", &i), OLIVE_EINVALID);
    CHECK_ERROR_HAS("is_symmetric");
    CHECK_ERROR_HAS("bool");
    CHECK(i == 7);
    CHECK_RC(olive_pass_get_float(p, "block_size", &f), OLIVE_EINVALID);
    CHECK(f == -1);
    CHECK_RC(olive_pass_get_bool(p, "no_such_key", &b), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("block_size"); /* the valid keys are listed */
    type = -1;
    CHECK_RC(olive_pass_param_type(p, "no_such_key", &type), OLIVE_ENOTFOUND);
    CHECK(type == -1);
    CHECK_RC(olive_pass_get_int(NULL, "bits", &i), OLIVE_EINVALID);
    CHECK_RC(olive_pass_get_int(p, "bits", NULL), OLIVE_EINVALID);
    CHECK_RC(olive_pass_param_type(p, NULL, &type), OLIVE_EINVALID);
    olive_pass_free(p);

    p = NULL;
    CHECK_RC(olive_pass_new(&p, "float16"), OLIVE_OK);
    CHECK_RC(olive_pass_set_float(p, "max_finite_val", 1000.5), OLIVE_OK);
    CHECK_RC(olive_pass_get_float(p, "max_finite_val", &f), OLIVE_OK);
    CHECK(f == 1000.5);
    olive_pass_free(p);
}

static void test_olive_types_carry_their_settings(void)
{
    /* Every Olive type the workflow accepts is a pass name here too, its fixed settings applied
     * (they equal the defaults today, so the values say only that they stay valid). */
    static const struct {
        const char *type, *pass, *key, *value;
    } cases[] = {
        {"onnxmatmul4quantizer", "quantize", "bits", "4"},
        {"OnnxConversion", "convert", "precision", "fp32"},
        {"OnnxHqqQuantization", "quantize_hqq", "block_size", "128"},
    };
    olive_pass *p = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *v = NULL;
        p = NULL;
        CHECK_RC(olive_pass_new(&p, cases[i].type), OLIVE_OK);
        CHECK_STR(olive_pass_name(p), cases[i].pass);
        CHECK_RC(olive_pass_get(p, cases[i].key, &v), OLIVE_OK);
        CHECK_STR(v, cases[i].value);
        olive_pass_free(p);
    }
    p = NULL;
    CHECK_RC(olive_pass_new(&p, "NoSuchOlivePass"), OLIVE_ENOTFOUND);
    CHECK(p == NULL);
}

int main(void)
{
    test_typed_getters();
    test_olive_types_carry_their_settings();
    return check_summary("test_pass_api");
}
