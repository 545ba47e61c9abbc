/* sinefit's optional compiled pass over (x, y) rows: the row-streaming half of
 * summary._window_factor (the Gram matrix of [L y], L the Legendre polynomials of the rows' own
 * window [min x, max x]) and of its residual correction, for one block of rows held in the CPU's
 * cache. The small linear algebra (Cholesky, change of basis, QR merges) stays in numpy, so this
 * file computes nothing the numpy path does not (they agree to rounding; tests/test_fastpass.py).
 *
 * Plain C functions called through ctypes (which releases the GIL: two threads run two blocks at
 * once); the module init exists only so that setuptools builds this file as an extension and
 * Python can find it. Without a C compiler the build skips it and numpy does the work.
 */
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define QMAX 34 /* degree <= 32: the Gram matrix is (degree + 2)^2 */
#define TILE 256 /* rows per tile: the partial sums of a tile are added into the block's, so each
                    running sum has at most TILE / W + rows / TILE terms (rounding stays small) */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* one build for every x86-64 machine; the loader picks the widest vectors the CPU has */
#define MULTI __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTI
#endif

static void coefficients(int degree, double *c1, double *c2) {
    for (int j = 1; j < degree; j++) { /* (j + 1) P_{j+1} = (2j + 1) t P_j - j P_{j-1} */
        c1[j] = (double)(2 * j + 1) / (double)(j + 1);
        c2[j] = (double)j / (double)(j + 1);
    }
}

/* ---------------------------------------------------------------- any degree: tiles of rows */

/* P_0 ... P_degree at t = x * a - b (summary._legendre_rows' operations), then y, for rows
 * [start, start + n) into L[j * TILE + r]. */
static inline __attribute__((always_inline)) void tile_rows(const double *xy, int64_t k, int64_t ix, int64_t iy, int64_t start, int64_t n,
                             int q, double a, double b, const double *c1, const double *c2, double *L) {
    int degree = q - 2;
    for (int64_t r = 0; r < n; r++) {
        L[r] = 1.0;
        if (degree > 0) L[TILE + r] = xy[(start + r) * k + ix] * a - b;
        L[(q - 1) * TILE + r] = xy[(start + r) * k + iy];
    }
    for (int j = 1; j < degree; j++) {
        double *nxt = L + (j + 1) * TILE;
        const double *t = L + TILE, *cur = L + j * TILE, *prev = L + (j - 1) * TILE;
        if (j == 1)
            for (int64_t r = 0; r < n; r++) nxt[r] = t[r] * cur[r] * c1[1] - 0.5;
        else
            for (int64_t r = 0; r < n; r++) nxt[r] = t[r] * cur[r] * c1[j] - prev[r] * c2[j];
    }
}

static inline __attribute__((always_inline)) double dot8(const double *u, const double *v, int64_t n) {
    double acc[8] = {0};
    int64_t r = 0;
    for (; r + 8 <= n; r += 8)
        for (int l = 0; l < 8; l++) acc[l] += u[r + l] * v[r + l];
    for (int l = 0; r < n; r++, l++) acc[l] += u[r] * v[r];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* always inlined: it runs in the caller's clone, with its vector width */
static inline __attribute__((always_inline)) void gram_tiles(const double *xy, int64_t k, int64_t ix, int64_t iy, int64_t m, int q, double a, double b,
                       const double *c1, const double *c2, double *acc) {
    double L[QMAX * TILE];
    for (int64_t start = 0; start < m; start += TILE) {
        int64_t n = m - start < TILE ? m - start : TILE;
        tile_rows(xy, k, ix, iy, start, n, q, a, b, c1, c2, L);
        for (int i = 0; i < q; i++)
            for (int j = i; j < q; j++) acc[i * q + j] += dot8(L + i * TILE, L + j * TILE, n);
    }
}

/* ---------------------------------------------------------------- small degrees: fused, in registers */

#if defined(__GNUC__)
#define W 8 /* rows per vector: one AVX-512 register, two AVX2 ones, four SSE2 ones */
typedef double vd __attribute__((vector_size(8 * W)));
typedef int64_t vi __attribute__((vector_size(8 * W)));
#define UNROLL _Pragma("GCC unroll 64")

static inline __attribute__((always_inline)) void load_xy(const double *p, int64_t k, int64_t ix, int64_t iy,
                                                          vd *x, vd *y) {
    if (k == 2 && ix == 0 && iy == 1) { /* the usual (n, 2) file: two loads and two shuffles */
        vd u, w;
        memcpy(&u, p, sizeof u);
        memcpy(&w, p + W, sizeof w);
        *x = __builtin_shuffle(u, w, (vi){0, 2, 4, 6, 8, 10, 12, 14});
        *y = __builtin_shuffle(u, w, (vi){1, 3, 5, 7, 9, 11, 13, 15});
    } else {
        UNROLL for (int l = 0; l < W; l++) {
            (*x)[l] = p[l * k + ix];
            (*y)[l] = p[l * k + iy];
        }
    }
}

/* The Gram matrix for a fixed q: W rows at a time are built in registers and multiplied into the
 * q (q + 1) / 2 - 1 partial sums (row 0 is ones: its entries are plain sums, G[0][0] the count). */
#define GRAM_FIXED(Q)                                                                                      \
    static inline __attribute__((always_inline)) void gram_q##Q(const double *xy, int64_t k, int64_t ix,   \
                                                                int64_t iy, int64_t m, double a, double b, \
                                                                const double *c1, const double *c2,        \
                                                                double *acc) {                             \
        vd s[Q * Q], tot[Q * Q];                                                                           \
        UNROLL for (int i = 0; i < Q * Q; i++) s[i] = tot[i] = (vd){0};                                    \
        int64_t r = 0, tile_end = TILE;                                                                    \
        for (; r + W <= m; r += W) {                                                                       \
            vd v[Q], x, y;                                                                                 \
            load_xy(xy + r * k, k, ix, iy, &x, &y);                                                        \
            v[1] = x * a - b;                                                                              \
            v[Q - 1] = y; /* degree 0 (Q = 2): P_1 is not needed, y takes its place */                     \
            UNROLL for (int j = 1; j < Q - 2; j++) v[j + 1] =                                              \
                j == 1 ? v[1] * v[1] * c1[1] - 0.5 : v[1] * v[j] * c1[j] - v[j - 1] * c2[j];               \
            UNROLL for (int i = 1; i < Q; i++) {                                                           \
                s[i] += v[i];                                                                              \
                UNROLL for (int j = i; j < Q; j++) s[i * Q + j] += v[i] * v[j];                            \
            }                                                                                              \
            if (r + W >= tile_end) {                                                                       \
                UNROLL for (int i = 0; i < Q * Q; i++) {                                                   \
                    tot[i] += s[i];                                                                        \
                    s[i] = (vd){0};                                                                        \
                }                                                                                          \
                tile_end += TILE;                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int i = 0; i < Q * Q; i++) {                                                                  \
            vd t = tot[i] + s[i];                                                                          \
            double z = 0.0;                                                                                \
            for (int l = 0; l < W; l++) z += t[l];                                                         \
            acc[i] += z;                                                                                   \
        }                                                                                                  \
        if (r < m) gram_tiles(xy + r * k, k, ix, iy, m - r, Q, a, b, c1, c2, acc); /* the last rows */     \
    }

GRAM_FIXED(2)
GRAM_FIXED(3)
GRAM_FIXED(4)
GRAM_FIXED(5)
GRAM_FIXED(6)
GRAM_FIXED(7)
GRAM_FIXED(8)
#endif

/* ---------------------------------------------------------------- entry points */

/* The range of x over m rows (range[0], range[1]) and, when the window is usable (return 0), the
 * full symmetric Gram matrix G (q x q, q = degree + 2, row-major) of [P_0 ... P_degree y] on it.
 * Returns 1 (G untouched) when hi <= lo or there are too few rows for the Gram path: the caller
 * factors those rows another way. A NaN x is skipped by the range but poisons G (the caller checks). */
MULTI int sinefit_window_gram(const double *xy, int64_t k, int64_t ix, int64_t iy, int64_t m, int64_t degree,
                              double *G, double *range) {
    double lo8[8], hi8[8];
    for (int l = 0; l < 8; l++) lo8[l] = INFINITY, hi8[l] = -INFINITY;
    int64_t r = 0;
#if defined(__GNUC__)
    if (k == 2 && ix == 0 && iy == 1) { /* x and y interleaved: vector loads, blend by masks */
        vd lo = {0}, hi = {0}, x, y;
        lo += INFINITY;
        hi -= INFINITY;
        for (; r + W <= m; r += W) {
            load_xy(xy + r * k, k, ix, iy, &x, &y);
            vi below = x < lo, above = x > hi; /* false for NaN: skipped, as the scalar loop does */
            lo = (vd)(((vi)x & below) | ((vi)lo & ~below));
            hi = (vd)(((vi)x & above) | ((vi)hi & ~above));
        }
        for (int l = 0; l < W; l++) {
            lo8[l % 8] = lo[l] < lo8[l % 8] ? lo[l] : lo8[l % 8];
            hi8[l % 8] = hi[l] > hi8[l % 8] ? hi[l] : hi8[l % 8];
        }
    }
#endif
    for (; r + 8 <= m; r += 8)
        for (int l = 0; l < 8; l++) {
            double v = xy[(r + l) * k + ix];
            lo8[l] = v < lo8[l] ? v : lo8[l];
            hi8[l] = v > hi8[l] ? v : hi8[l];
        }
    for (int l = 0; r < m; r++, l++) {
        double v = xy[r * k + ix];
        lo8[l] = v < lo8[l] ? v : lo8[l];
        hi8[l] = v > hi8[l] ? v : hi8[l];
    }
    double lo = lo8[0], hi = hi8[0];
    for (int l = 1; l < 8; l++) lo = lo8[l] < lo ? lo8[l] : lo, hi = hi8[l] > hi ? hi8[l] : hi;
    range[0] = lo;
    range[1] = hi;
    int q = (int)degree + 2;
    if (degree < 0 || q > QMAX || !(hi > lo) || m < 4 * (int64_t)q) return 1;
    double a = 2.0 / (hi - lo), b = (lo + hi) / (hi - lo);
    double c1[QMAX], c2[QMAX], acc[QMAX * QMAX];
    coefficients((int)degree, c1, c2);
    memset(acc, 0, sizeof acc);
    switch (q) {
#if defined(__GNUC__)
    case 2: gram_q2(xy, k, ix, iy, m, a, b, c1, c2, acc); break;
    case 3: gram_q3(xy, k, ix, iy, m, a, b, c1, c2, acc); break;
    case 4: gram_q4(xy, k, ix, iy, m, a, b, c1, c2, acc); break;
    case 5: gram_q5(xy, k, ix, iy, m, a, b, c1, c2, acc); break;
    case 6: gram_q6(xy, k, ix, iy, m, a, b, c1, c2, acc); break;
    case 7: gram_q7(xy, k, ix, iy, m, a, b, c1, c2, acc); break;
    case 8: gram_q8(xy, k, ix, iy, m, a, b, c1, c2, acc); break;
#endif
    default: gram_tiles(xy, k, ix, iy, m, q, a, b, c1, c2, acc);
    }
    acc[0] = (double)m;
    for (int i = 0; i < q; i++)
        for (int j = i; j < q; j++) G[i * q + j] = G[j * q + i] = acc[i * q + j];
    return 0;
}

/* One block of the file's pass: sinefit_window_gram, and the block's share of the strided sample
 * (rows first, first + stride, ... into sx, sy), in one call from Python. */
MULTI int sinefit_block(const double *xy, int64_t k, int64_t ix, int64_t iy, int64_t m, int64_t degree, double *G,
                        double *range, int64_t first, int64_t stride, double *sx, double *sy) {
    for (int64_t r = first, i = 0; r < m; r += stride, i++) {
        sx[i] = xy[r * k + ix];
        sy[i] = xy[r * k + iy];
    }
    return sinefit_window_gram(xy, k, ix, iy, m, degree, G, range);
}

/* The explicit residual res = y - L theta on the window [lo, hi] (summary._residual), for fits so
 * good that rho^2 cancels in the Gram matrix: out[0..p-1] = L^T res, out[p] = res^T res. */
MULTI void sinefit_window_residual(const double *xy, int64_t k, int64_t ix, int64_t iy, int64_t m, int64_t degree,
                                   double lo, double hi, const double *theta, double *out) {
    int q = (int)degree + 2, p = q - 1;
    if (q > QMAX) return;
    double a = 2.0 / (hi - lo), b = (lo + hi) / (hi - lo);
    double c1[QMAX], c2[QMAX], L[QMAX * TILE], res[TILE];
    coefficients((int)degree, c1, c2);
    for (int j = 0; j <= p; j++) out[j] = 0.0;
    for (int64_t start = 0; start < m; start += TILE) {
        int64_t n = m - start < TILE ? m - start : TILE;
        tile_rows(xy, k, ix, iy, start, n, q, a, b, c1, c2, L);
        for (int64_t r = 0; r < n; r++) res[r] = L[r] * theta[0];
        for (int j = 1; j < p; j++)
            for (int64_t r = 0; r < n; r++) res[r] += theta[j] * L[j * TILE + r];
        for (int64_t r = 0; r < n; r++) res[r] = L[(q - 1) * TILE + r] - res[r];
        for (int j = 0; j < p; j++) out[j] += dot8(L + j * TILE, res, n);
        out[p] += dot8(res, res, n);
    }
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel",
                                    "sinefit's compiled row pass (its functions are called through ctypes).", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
