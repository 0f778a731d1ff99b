/* See value_range.h. On x86, MINPS / MAXPS compute `x < lo ? x : lo` lane by lane (a NaN x
 * compares false and is skipped), four vectors of four lanes at a time; elsewhere, and for
 * the tail, the same comparison one value at a time. */
#include <math.h>

#include "kernels/value_range.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

void olive_value_range(const float *v, size_t n, float *lo, float *hi)
{
    float a = INFINITY, b = -INFINITY;
    size_t i = 0;
#if defined(__SSE__)
    if (n >= 16) {
        __m128 l0 = _mm_set1_ps(INFINITY), l1 = l0, l2 = l0, l3 = l0;
        __m128 h0 = _mm_set1_ps(-INFINITY), h1 = h0, h2 = h0, h3 = h0;
        float lanes[4];
        for (; i + 16 <= n; i += 16) {
            __m128 x0 = _mm_loadu_ps(v + i), x1 = _mm_loadu_ps(v + i + 4), x2 = _mm_loadu_ps(v + i + 8),
                   x3 = _mm_loadu_ps(v + i + 12);
            l0 = _mm_min_ps(x0, l0);
            l1 = _mm_min_ps(x1, l1);
            l2 = _mm_min_ps(x2, l2);
            l3 = _mm_min_ps(x3, l3);
            h0 = _mm_max_ps(x0, h0);
            h1 = _mm_max_ps(x1, h1);
            h2 = _mm_max_ps(x2, h2);
            h3 = _mm_max_ps(x3, h3);
        }
        /* The lanes hold no NaN, so the order they are folded in does not matter. */
        _mm_storeu_ps(lanes, _mm_min_ps(_mm_min_ps(l0, l1), _mm_min_ps(l2, l3)));
        for (int k = 0; k < 4; k++)
            a = lanes[k] < a ? lanes[k] : a;
        _mm_storeu_ps(lanes, _mm_max_ps(_mm_max_ps(h0, h1), _mm_max_ps(h2, h3)));
        for (int k = 0; k < 4; k++)
            b = lanes[k] > b ? lanes[k] : b;
    }
#endif
    for (; i < n; i++) {
        a = v[i] < a ? v[i] : a;
        b = v[i] > b ? v[i] : b;
    }
    *lo = a;
    *hi = b;
}
