#include <string.h>
#include <strings.h>

#include "ir/ir.h"

static const struct {
    const char *name;
    unsigned bits;
} dtypes[OIR_DTYPE_COUNT] = {
    [OIR_UNDEFINED] = {"undefined", 0},
    [OIR_FLOAT] = {"float", 32},
    [OIR_UINT8] = {"uint8", 8},
    [OIR_INT8] = {"int8", 8},
    [OIR_UINT16] = {"uint16", 16},
    [OIR_INT16] = {"int16", 16},
    [OIR_INT32] = {"int32", 32},
    [OIR_INT64] = {"int64", 64},
    [OIR_STRING] = {"string", 0},
    [OIR_BOOL] = {"bool", 8},
    [OIR_FLOAT16] = {"float16", 16},
    [OIR_DOUBLE] = {"double", 64},
    [OIR_UINT32] = {"uint32", 32},
    [OIR_UINT64] = {"uint64", 64},
    [OIR_COMPLEX64] = {"complex64", 64},
    [OIR_COMPLEX128] = {"complex128", 128},
    [OIR_BFLOAT16] = {"bfloat16", 16},
    [OIR_FLOAT8E4M3FN] = {"float8e4m3fn", 8},
    [OIR_FLOAT8E4M3FNUZ] = {"float8e4m3fnuz", 8},
    [OIR_FLOAT8E5M2] = {"float8e5m2", 8},
    [OIR_FLOAT8E5M2FNUZ] = {"float8e5m2fnuz", 8},
    [OIR_UINT4] = {"uint4", 4},
    [OIR_INT4] = {"int4", 4},
    [OIR_FLOAT4E2M1] = {"float4e2m1", 4},
};

const char *oir_dtype_name(int32_t dtype)
{
    if (dtype < 0 || dtype >= OIR_DTYPE_COUNT)
        return "unknown";
    return dtypes[dtype].name;
}

int32_t oir_dtype_from_name(const char *name)
{
    static const struct {
        const char *alias;
        int32_t dtype;
    } aliases[] = {
        {"float32", OIR_FLOAT}, {"fp32", OIR_FLOAT},     {"fp16", OIR_FLOAT16}, {"half", OIR_FLOAT16},
        {"bf16", OIR_BFLOAT16}, {"float64", OIR_DOUBLE}, {"fp64", OIR_DOUBLE},
    };
    if (!name)
        return 0;
    for (int32_t i = 1; i < OIR_DTYPE_COUNT; i++)
        if (!strcasecmp(name, dtypes[i].name))
            return i;
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcasecmp(name, aliases[i].alias))
            return aliases[i].dtype;
    return 0;
}

unsigned oir_dtype_bits(int32_t dtype)
{
    if (dtype < 0 || dtype >= OIR_DTYPE_COUNT)
        return 0;
    return dtypes[dtype].bits;
}
