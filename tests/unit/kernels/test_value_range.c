/* The min and max kernel (value_range.h) on arrays worked out by hand: the extremes in the
 * vector part, in the tail and in every lane position, NaNs skipped wherever they are, and
 * the empty and all-NaN cases. */
#include <math.h>

#include "check.h"
#include "kernels/value_range.h"

static void extremes_everywhere(void)
{
    float v[53], lo, hi;
    for (size_t n = 2; n <= 53; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t i = 0; i < n; i++)
                v[i] = (float)(i % 7) - 3.0f; /* -3 .. 3 */
            v[at] = -100.5f;
            v[(at + 1) % n] = 42.25f;
            olive_value_range(v, n, &lo, &hi);
            CHECK(lo == -100.5f);
            CHECK(hi == 42.25f);
        }
    }
    v[0] = -1.5f;
    olive_value_range(v, 1, &lo, &hi);
    CHECK(lo == -1.5f && hi == -1.5f);
}

static void nans_skipped(void)
{
    float v[40], lo, hi;
    for (size_t at = 0; at < 40; at++) {
        for (size_t i = 0; i < 40; i++)
            v[i] = 0.5f * (float)i - 7.0f; /* -7 .. 12.5 */
        v[at] = NAN;
        olive_value_range(v, 40, &lo, &hi);
        CHECK(lo == (at == 0 ? -6.5f : -7.0f));
        CHECK(hi == (at == 39 ? 12.0f : 12.5f));
    }
    for (size_t i = 0; i < 40; i++)
        v[i] = NAN;
    olive_value_range(v, 40, &lo, &hi);
    CHECK(lo == INFINITY && hi == -INFINITY);
    olive_value_range(v, 0, &lo, &hi);
    CHECK(lo == INFINITY && hi == -INFINITY);
}

static void infinities_kept(void)
{
    float v[20] = {0}, lo, hi;
    v[3] = -INFINITY;
    v[17] = INFINITY;
    olive_value_range(v, 20, &lo, &hi);
    CHECK(lo == -INFINITY && hi == INFINITY);
}

int main(void)
{
    extremes_everywhere();
    nans_skipped();
    infinities_kept();
    return check_summary("test_value_range");
}
