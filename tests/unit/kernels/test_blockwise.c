/* The block quantization kernels on small blocks whose codes are worked out by hand from the
 * two references' formulas (see blockwise.h). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "kernels/blockwise.h"

static olive_blockq cfg(int algorithm, int bits, int symmetric)
{
    olive_blockq p = {algorithm, bits, 16, symmetric, 0};
    return p;
}

/* Code i of a packed block. */
static unsigned code(const olive_blockq *p, const uint8_t *blob, size_t i)
{
    return p->bits == 8 ? blob[i] : (unsigned)(i % 2 ? blob[i / 2] >> 4 : blob[i / 2] & 0x0f);
}

static float run_block(const olive_blockq *p, const float *v, size_t len, uint8_t *blob, uint8_t *zp)
{
    float s = -1234.0f;
    CHECK(olive_blockq_block(p, v, len, blob, &s, zp) == -1);
    return s;
}

static void default_symmetric(void)
{
    olive_blockq p = cfg(OLIVE_BLOCKQ_DEFAULT, 4, 1);
    uint8_t blob[16], zp;
    /* Largest magnitude -4 keeps its sign: scale = 4/8, codes v*2 + 8. */
    float v[16] = {-4, 2, 1, 0};
    CHECK(run_block(&p, v, 16, blob, &zp) == 0.5f);
    CHECK(zp == 8);
    CHECK(blob[0] == 0xc0 && blob[1] == 0x8a);
    for (int i = 2; i < 8; i++)
        CHECK(blob[i] == 0x88);
    /* Largest magnitude +3: scale = -3/8; a short block leaves its padding codes at 0. */
    {
        float w[3] = {3, -1, 1.5f};
        CHECK(run_block(&p, w, 3, blob, &zp) == -0.375f);
        CHECK(code(&p, blob, 0) == 0 && code(&p, blob, 1) == 11 && code(&p, blob, 2) == 4 && code(&p, blob, 3) == 0);
    }
    /* 8 bits: scale = -m/128, codes centred on 128. */
    p = cfg(OLIVE_BLOCKQ_DEFAULT, 8, 1);
    {
        float w[4] = {-64, 32, 0.25f, 0};
        uint8_t b8[16];
        CHECK(run_block(&p, w, 4, b8, &zp) == 0.5f);
        CHECK(b8[0] == 0 && b8[1] == 192 && b8[2] == 129 && b8[3] == 128 && zp == 128);
    }
}

static void default_asymmetric(void)
{
    olive_blockq p = cfg(OLIVE_BLOCKQ_DEFAULT, 4, 0);
    uint8_t blob[16], zp;
    /* Range [-5, 10]: scale 1, zero point 5; 1.5 + 5 = 6.5 rounds away from zero. */
    float v[4] = {-5, 10, 0, 1.5f};
    CHECK(run_block(&p, v, 4, blob, &zp) == 1.0f);
    CHECK(zp == 5);
    CHECK(code(&p, blob, 0) == 0 && code(&p, blob, 1) == 15 && code(&p, blob, 2) == 5 && code(&p, blob, 3) == 7);
    CHECK(code(&p, blob, 4) == 0);
    /* All positive: the range is widened to 0, so the zero point is 0. */
    {
        float w[2] = {7.5f, 15};
        CHECK(run_block(&p, w, 2, blob, &zp) == 1.0f);
        CHECK(zp == 0 && code(&p, blob, 0) == 8 && code(&p, blob, 1) == 15);
    }
    p = cfg(OLIVE_BLOCKQ_DEFAULT, 8, 0);
    {
        float w[4] = {-51, 204, 0, 25.5f};
        uint8_t b8[16];
        CHECK(run_block(&p, w, 4, b8, &zp) == 1.0f);
        CHECK(zp == 51 && b8[0] == 0 && b8[1] == 255 && b8[2] == 51 && b8[3] == 77);
    }
}

static void rtn(void)
{
    olive_blockq p = cfg(OLIVE_BLOCKQ_RTN, 4, 0);
    uint8_t blob[16], zp;
    /* Asymmetric: scale (10 - -5)/15 = 1, zero point 5; 6.5 rounds to even; padding is
     * quantized as 0, that is the zero point. */
    float v[4] = {-5, 10, 0, 1.5f};
    CHECK(run_block(&p, v, 4, blob, &zp) == 1.0f);
    CHECK(zp == 5 && code(&p, blob, 0) == 0 && code(&p, blob, 1) == 15 && code(&p, blob, 2) == 5 &&
          code(&p, blob, 3) == 6);
    for (size_t i = 4; i < 16; i++)
        CHECK(code(&p, blob, i) == 5);
    /* A full block of 2..17 is not widened to 0: scale 1, zero point -2 clamps to 0. */
    {
        float w[16];
        for (int i = 0; i < 16; i++)
            w[i] = (float)(2 + i);
        CHECK(run_block(&p, w, 16, blob, &zp) == 1.0f);
        CHECK(zp == 0 && code(&p, blob, 0) == 2 && code(&p, blob, 13) == 15 && code(&p, blob, 15) == 15);
    }
    /* Symmetric: scale 2 * 7.5 / 15 = 1, codes v + 8 with -0.5 rounding to even 0. */
    p = cfg(OLIVE_BLOCKQ_RTN, 4, 1);
    {
        float w[4] = {-7.5f, 3, 0, 1};
        CHECK(run_block(&p, w, 4, blob, &zp) == 1.0f);
        CHECK(zp == 8 && code(&p, blob, 0) == 0 && code(&p, blob, 1) == 11 && code(&p, blob, 2) == 8 &&
              code(&p, blob, 3) == 9 && code(&p, blob, 4) == 8);
    }
    p = cfg(OLIVE_BLOCKQ_RTN, 8, 1);
    {
        float w[4] = {-127.5f, 0, 1, 2.5f};
        uint8_t b8[16];
        CHECK(run_block(&p, w, 4, b8, &zp) == 1.0f);
        CHECK(b8[0] == 0 && b8[1] == 128 && b8[2] == 129 && b8[3] == 130 && b8[4] == 128);
    }
}

static void zero_blocks(void)
{
    float z[16] = {0};
    uint8_t blob[16], zp;
    olive_blockq p = cfg(OLIVE_BLOCKQ_DEFAULT, 4, 1);
    float s = run_block(&p, z, 16, blob, &zp);
    CHECK(s == 0.0f && blob[0] == 0x88 && blob[7] == 0x88);
    p = cfg(OLIVE_BLOCKQ_DEFAULT, 4, 0);
    CHECK(run_block(&p, z, 16, blob, &zp) == 0.0f && zp == 0 && blob[0] == 0 && blob[7] == 0);
    p = cfg(OLIVE_BLOCKQ_RTN, 4, 1);
    CHECK(run_block(&p, z, 16, blob, &zp) == 1.0f && blob[0] == 0x88);
    p = cfg(OLIVE_BLOCKQ_RTN, 4, 0);
    CHECK(run_block(&p, z, 16, blob, &zp) == 1.0f && zp == 0 && blob[0] == 0);
}

static void non_finite(void)
{
    olive_blockq p = cfg(OLIVE_BLOCKQ_DEFAULT, 4, 1);
    float v[4] = {1, 2, INFINITY, 3}, s = 7.0f;
    uint8_t blob[16] = {0x55}, zp = 99;
    CHECK(olive_blockq_block(&p, v, 4, blob, &s, &zp) == 2);
    CHECK(s == 7.0f && zp == 99 && blob[0] == 0x55);
    v[2] = NAN;
    p.algorithm = OLIVE_BLOCKQ_RTN;
    CHECK(olive_blockq_block(&p, v, 4, blob, &s, &zp) == 2);
}

static void zero_points_and_tail(void)
{
    olive_blockq p = cfg(OLIVE_BLOCKQ_DEFAULT, 4, 0);
    uint8_t zp[2], codes[16];
    CHECK(olive_blockq_zp_bytes(&p, 3) == 2 && olive_blockq_blob_size(&p) == 8);
    olive_blockq_zp_init(&p, zp, 3);
    olive_blockq_zp_store(&p, zp, 0, 1);
    olive_blockq_zp_store(&p, zp, 1, 2);
    olive_blockq_zp_store(&p, zp, 2, 3);
    CHECK(zp[0] == 0x21 && zp[1] == 0x83); /* the unused nibble holds 8 */
    /* K = 3: the nibble after the last code repeats the code two rows above. */
    memset(codes, 0, sizeof codes);
    codes[0] = 0x21;
    codes[1] = 0x03;
    olive_blockq_finish_channel(&p, codes, 3);
    CHECK(codes[1] == 0x23);
    /* K = 33 with blocks of 16: the last value opens a pair of blocks, the nibble stays 0. */
    {
        uint8_t c2[24] = {0};
        c2[15] = 0x90;
        c2[16] = 0x05;
        olive_blockq_finish_channel(&p, c2, 33);
        CHECK(c2[16] == 0x05);
        /* K = 31: code 29 (high nibble of byte 14) goes into nibble 31. */
        c2[14] = 0x70;
        olive_blockq_finish_channel(&p, c2, 31);
        CHECK(c2[15] == 0x70);
    }
    /* RTN and 8 bits leave the codes alone. */
    p.algorithm = OLIVE_BLOCKQ_RTN;
    codes[1] = 0x03;
    olive_blockq_finish_channel(&p, codes, 3);
    CHECK(codes[1] == 0x03);
}

static void half_rounding(void)
{
    CHECK(olive_blockq_half_from_double(1.0) == 0x3c00);
    CHECK(olive_blockq_half_from_double(-2.0) == 0xc000);
    CHECK(olive_blockq_half_from_double(65504.0) == 0x7bff);
    CHECK(olive_blockq_half_from_double(65519.0) == 0x7bff);
    CHECK(olive_blockq_half_from_double(65520.0) == 0x7c00);
    CHECK(olive_blockq_half_from_double(0x1p-24) == 0x0001);
    CHECK(olive_blockq_half_from_double(0x1p-25) == 0x0000);           /* tie to even */
    CHECK(olive_blockq_half_from_double(1.0 + 0x1p-11) == 0x3c00);     /* tie to even */
    CHECK(olive_blockq_half_from_double(1.0 + 3 * 0x1p-11) == 0x3c02); /* tie to even */
    CHECK(olive_blockq_half_from_double(0x1p-14 - 0x1p-25) == 0x0400); /* rounds up to the smallest normal */
}

int main(void)
{
    default_symmetric();
    default_asymmetric();
    rtn();
    zero_blocks();
    non_finite();
    zero_points_and_tail();
    half_rounding();
    return check_summary("test_blockwise");
}
