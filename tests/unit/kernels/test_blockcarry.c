/* Carrying block codes into MatMulNBits blocks (blockcarry.h) on small blocks worked out by
 * hand: the exact mapping, fitted zero points whose exact value is an integer (then the fit is
 * exact too) or lies between two, blocks of one value, and non-finite input. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "kernels/blockcarry.h"

static void bits_needed(void)
{
    CHECK(olive_blockcarry_bits(-8, 7, 0) == 4);     /* Q4_0 */
    CHECK(olive_blockcarry_bits(-16, 15, 0) == 8);   /* Q5_0 */
    CHECK(olive_blockcarry_bits(-128, 127, 0) == 8); /* Q8_0 */
    CHECK(olive_blockcarry_bits(0, 15, 1) == 4);     /* Q4_1 */
    CHECK(olive_blockcarry_bits(0, 31, 1) == 8);     /* Q5_1 */
    CHECK(olive_blockcarry_bits(-200, 100, 0) == 0);
}

static void exact(void)
{
    const olive_blockcarry p = {4, -8, 7, 0, 0};
    int8_t c[4] = {-8, -1, 0, 7};
    uint8_t u[4];
    float s = 0;
    double err = 1;
    CHECK(olive_blockcarry_block(&p, c, NULL, 4, 0.25f, 0.0f, u, &s, &err) == 8);
    CHECK(u[0] == 0 && u[1] == 7 && u[2] == 8 && u[3] == 15);
    CHECK(s == 0.25f && err == 0);
    /* float16 scales: 1 + 2^-12 rounds to 1, each weight moves by 2^-12 * |code| */
    const olive_blockcarry h = {8, -32, 31, 0, 1};
    uint16_t hs;
    int8_t c2[2] = {-32, 31};
    CHECK(olive_blockcarry_block(&h, c2, NULL, 2, 1.0f + 0x1p-12f, 0.0f, u, &hs, &err) == 128);
    CHECK(hs == 0x3c00 && u[0] == 96 && u[1] == 159);
    CHECK(fabs(err - 32 * 0x1p-12) < 1e-12);
}

static void fitted(void)
{
    /* value = 0.5 * q - 1.5: the zero sits on code 3 exactly, so the fit is exact */
    const olive_blockcarry p = {4, 0, 15, 1, 0};
    int8_t c[4] = {0, 3, 10, 15};
    float v[4];
    uint8_t u[4];
    float s = 0;
    double err = 1;
    for (int i = 0; i < 4; i++)
        v[i] = 0.5f * (float)c[i] - 1.5f;
    CHECK(olive_blockcarry_block(&p, c, v, 4, 0.5f, -1.5f, u, &s, &err) == 3);
    CHECK(s == 0.5f && err == 0 && u[0] == 0 && u[3] == 15);
    /* zero at 3.25 (offset -1.625): z = 3, least squares moves the scale, error < half a step */
    for (int i = 0; i < 4; i++)
        v[i] = 0.5f * (float)c[i] - 1.625f;
    CHECK(olive_blockcarry_block(&p, c, v, 4, 0.5f, -1.625f, u, &s, &err) == 3);
    CHECK(err > 0 && err < 0.25);
    /* 8 bits: 4-bit codes times 17, the zero at 17 * 3.25 = 55.25 -> 55, error < 0.5 / 17 step */
    const olive_blockcarry w = {8, 0, 15, 1, 0};
    CHECK(olive_blockcarry_block(&w, c, v, 4, 0.5f, -1.625f, u, &s, &err) == 55);
    CHECK(u[1] == 51 && u[3] == 255 && err < 0.25 / 17 * 1.01);
    /* a block of one value (scale 0): codes 0, zero point 1, scale -offset */
    for (int i = 0; i < 4; i++)
        v[i] = 0.75f;
    CHECK(olive_blockcarry_block(&p, c, v, 4, 0.0f, 0.75f, u, &s, &err) == 1);
    CHECK(s == -0.75f && err == 0 && u[2] == 0);
    /* float zero points: -offset / scale, exact here */
    float z = 0;
    CHECK(olive_blockcarry_block_float(&p, c, v, 4, 0.0f, 0.75f, u, &s, &z, &err) == 0);
    CHECK(s == 0.75f && z == -1.0f && err == 0);
    for (int i = 0; i < 4; i++)
        v[i] = 0.5f * (float)c[i] - 1.625f;
    CHECK(olive_blockcarry_block_float(&p, c, v, 4, 0.5f, -1.625f, u, &s, &z, &err) == 0);
    CHECK(s == 0.5f && z == 3.25f && err == 0 && u[1] == 3);
}

static void non_finite(void)
{
    const olive_blockcarry p = {4, 0, 15, 1, 0}, q = {4, -8, 7, 0, 1};
    int8_t c[2] = {0, 1};
    float v[2] = {0, INFINITY};
    uint8_t u[2];
    float s;
    uint16_t hs;
    double err;
    CHECK(olive_blockcarry_block(&p, c, v, 2, 1.0f, 0.0f, u, &s, &err) == -1);
    CHECK(olive_blockcarry_block(&p, c, v, 2, NAN, 0.0f, u, &s, &err) == -1);
    /* a float scale beyond float16's range does not fit a float16 model */
    CHECK(olive_blockcarry_block(&q, c, NULL, 2, 1e6f, 0.0f, u, &hs, &err) == -1);
}

int main(void)
{
    bits_needed();
    exact();
    fitted();
    non_finite();
    return check_summary("test_blockcarry");
}
