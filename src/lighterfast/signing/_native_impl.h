/* Native Lighter (zkLighter) L2 signer core: Goldilocks field, GF(p^5), ECgFp5, Poseidon2-12,
 * Schnorr. Written from docs/signer-spec.md (sections 2-4); constants are protocol facts.
 *
 * Representation: every GF(p) value is kept canonical (< p). Everything that touches a secret
 * (the nonce k, the private key) runs without secret-dependent branches or memory indexes:
 * fixed-base table rows are scanned in full with masks, scalar arithmetic is masked.
 */
#ifndef LIGHTERFAST_NATIVE_IMPL_H
#define LIGHTERFAST_NATIVE_IMPL_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

typedef uint64_t lf_u64;
typedef unsigned __int128 lf_u128;

#define LF_P 0xFFFFFFFF00000001ULL
#define LF_INLINE static inline __attribute__((always_inline))
#define LF_EPS 0xFFFFFFFFULL
/* Hot functions start on a cache line: on some cores (seen on Zen 5) a long straight-line body
 * at an unlucky address ran ~1.6x slower (verify: 270 vs 165 us). */
#define LF_HOT __attribute__((aligned(64)))

/* ---------------------------------------------------------------------------------------------
 * Poseidon2 constants (spec 3.1)
 * ------------------------------------------------------------------------------------------- */
static const lf_u64 LF_RC_E[8][12] = {
    {0xd70193d17ab3b7d6ULL, 0xa2c3662a78a9162bULL, 0x7a9fda827556ad44ULL, 0xe8d5501818c99643ULL, 0x4c7a8fced4d5fd38ULL, 0x55ab38985c0c513dULL,
     0x28a17bd016210b0bULL, 0x8f8277679ec32fa8ULL, 0x768b3c3d68a460e9ULL, 0x872a022eb559d941ULL, 0xd1316dd4b3b97973ULL, 0xa7b608e578321000ULL},
    {0x3fa02c87b0bee026ULL, 0x7a38f0022e13c31eULL, 0x00c054f3c5e8d20dULL, 0x439f50f4bca7242fULL, 0x4d0938aa57cd517fULL, 0xb2e03ac5fb6b9a7dULL,
     0xe29d1f4237bedca8ULL, 0x05b7c844bc99b848ULL, 0x91cc0b73f34e17edULL, 0x876e4427694bd755ULL, 0x67002ae0725c612dULL, 0x05351f20e0b6315fULL},
    {0x2e3b9ef5457eb60bULL, 0xd9ac17618c3783ddULL, 0x0807528ad8874bcfULL, 0xc78d546a455d2a0eULL, 0xf8b930c81e2481f0ULL, 0x712707d8dff3b041ULL,
     0xdcb8c0aa0b9d34c3ULL, 0x9baddbdf2ee3a468ULL, 0x2dd16d50c5176c78ULL, 0x89eac5cfbc075cd3ULL, 0x2a741dea181587f3ULL, 0x1a4d6aa85a113d84ULL},
    {0x4d736286a2387e34ULL, 0x8bad5dfc4fcb3ee3ULL, 0x84fbd03adb77c56aULL, 0x8d5cdd1a23ec53a2ULL, 0x036f08f08fff28ecULL, 0xb717a3f4dbdfb443ULL,
     0x58a074b5509d645cULL, 0xf92bf834e4b87718ULL, 0x1541c3a0baa5ac4bULL, 0x22149e6783e67692ULL, 0x9be8b5d9e112476fULL, 0x41e0969f62babb76ULL},
    {0xbc585ad3b9443dbbULL, 0xf28dd3206975cbb1ULL, 0xdd8815e53ca045e0ULL, 0xde82c416b9e701baULL, 0xc5cb875233afa025ULL, 0x7212697cd897ffa9ULL,
     0x67844790aa63cfd7ULL, 0xdc0b9cfa97fe65c3ULL, 0xe8fe091869a82070ULL, 0x62902bb2e413c6d1ULL, 0x29f9f5001fb84f57ULL, 0xbe1014796ef5f8beULL},
    {0x71feb53e9bdba19cULL, 0x251054f592ebb71cULL, 0xe1a57643a4bb284bULL, 0xa4ba6f87a45b739bULL, 0x2c1fcade0b958c49ULL, 0xbbb424cda9a3e360ULL,
     0x2ca647354c5f3f54ULL, 0xc9277b64d152e084ULL, 0xdbc9ac97445eff17ULL, 0x6f6cdf3198969f70ULL, 0x1de29d14fa76d8f1ULL, 0x73337458a8cc1d19ULL},
    {0xb87e775e2fb3ab23ULL, 0xf166a1c7a565c80bULL, 0xb24be06f426c747fULL, 0xc281e8c49482ce00ULL, 0x51974c3b3b726c2dULL, 0x87444cf8caf7d619ULL,
     0x7c362f827a580cedULL, 0x9567af14667647a0ULL, 0xcbf0473cbec54e37ULL, 0xe3209dedeff4f620ULL, 0xd43ad94e45a4c4eeULL, 0x976981ee73f41768ULL},
    {0xef707a224e207258ULL, 0x2fc779e10e6362eeULL, 0x29b5ee60ad8c891fULL, 0x96b37b39d8bfd667ULL, 0x877df68a8b22e733ULL, 0x5c41746f562c8d9fULL,
     0x0c9d76751052b71aULL, 0xfb3465341bf1c087ULL, 0xa0d14dc614d15eb1ULL, 0xdc27d17136906fa6ULL, 0x482e163b05ec397fULL, 0x0273a462992366efULL},
};
static const lf_u64 LF_RC_I[22] = {
    0xa571418d95897b60ULL, 0x8f32676574fcf6d3ULL, 0x731102d4e3fb1bbeULL, 0x0330f08328a82d2bULL,
    0x7f0449b6557f785dULL, 0x62f06210658dcbcbULL, 0xd5a98af9f89c458bULL, 0x77ec69083a346385ULL,
    0xef7ca48bbc27f890ULL, 0x53e9652f61eac532ULL, 0xa71c634abff4f0ccULL, 0xb16f5f0d7e28ea29ULL,
    0xc9dde31d0a003ab2ULL, 0x2ddadf9775902533ULL, 0xe4fa73fb16408b47ULL, 0x90242ebc00d2ee59ULL,
    0xbb02dffd9f381982ULL, 0xdea328364c50907cULL, 0x1395d3b924857cf8ULL, 0x7d3ead0d5aec04e6ULL,
    0xc2f12be3fed74668ULL, 0x0ba3c338f8c3d285ULL,
};
static const lf_u64 LF_DIAG[12] = {
    0xc3b6c08e23ba9300ULL, 0xd84b5de94a324fb6ULL, 0x0d0c371c5b35b84fULL, 0x7964f570e7188037ULL,
    0x5daf18bbd996604bULL, 0x6743bc47b9595257ULL, 0x5528b9362c59bb70ULL, 0xac45e25b7127b68bULL,
    0xa2077d7dfbb606b5ULL, 0xf3faac6faee378aeULL, 0x0c6388b51545e883ULL, 0xd27dbb6944917b60ULL,
};

static const lf_u64 LF_GX[5] = {0xb2ca178ecf4453a1ULL, 0x3c757788836d3ea4ULL, 0x48d7f28a26dafd0bULL,
                                0x1e0f15c7fd44c28eULL, 0x21fa7ffcc8252211ULL};
/* Frobenius multipliers w^(k*i), w = 3^((p-1)/5) (spec 2.2), k = 1, 2. */
static const lf_u64 LF_W1[5] = {1ULL, 0x0e736627a0aeb983ULL, 0xdb8edc802dc0b266ULL,
                                0x02efb5c2a6f35241ULL, 0x130e07948a9d41d6ULL};
static const lf_u64 LF_W2[5] = {1ULL, 0xdb8edc802dc0b266ULL, 0x130e07948a9d41d6ULL,
                                0x0e736627a0aeb983ULL, 0x02efb5c2a6f35241ULL};
/* Group order n (spec 2.4), R^2 mod n for R = 2^320, and -n^-1 mod 2^64. */
static const lf_u64 LF_N[5] = {0xe80fd996948bffe1ULL, 0xe8885c39d724a09cULL, 0x7fffffe6cfb80639ULL,
                               0x7ffffff100000016ULL, 0x7ffffffd80000007ULL};
static const lf_u64 LF_R2[5] = {0xa01001dce33dc739ULL, 0x6c3228d33f62accfULL, 0xd1d796cc91cf8525ULL,
                                0xaadfff5d1574c1d8ULL, 0x4aca13b28ca251f5ULL};
#define LF_N0INV 0xd78bef72057b7bdfULL
#define LF_B1 263ULL /* curve b = 263 z */

/* ---------------------------------------------------------------------------------------------
 * GF(p), canonical values
 * ------------------------------------------------------------------------------------------- */

static inline lf_u64 lf_mask(lf_u64 bit) { return (lf_u64)0 - bit; }

/* Any 128-bit x to a congruent value < 2^64 (maybe >= p): lo - hh + hl * EPS with hi = hh:hl,
 * as 2^64 = EPS and 2^96 = -1 (mod p); each borrow/carry folded back branch-free. */
LF_INLINE lf_u64 gf_red_nc(lf_u128 x) {
    lf_u64 lo = (lf_u64)x, hi = (lf_u64)(x >> 64), t, r;
    unsigned borrow = __builtin_sub_overflow(lo, hi >> 32, &t);
    t -= (lf_u64)(uint32_t)(0u - borrow); /* wrapped by 2^64 = p + EPS: take EPS off */
    unsigned carry = __builtin_add_overflow(t, (hi << 32) - (hi & LF_EPS), &r);
    return r + (lf_u64)(uint32_t)(0u - carry); /* lost 2^64 = EPS */
}

/* The same, canonical (< p). */
static inline lf_u64 gf_red(lf_u128 x) {
    lf_u64 r = gf_red_nc(x);
    return r + (LF_EPS & lf_mask((lf_u64)(r >= LF_P)));
}

static inline lf_u64 gf_canon(lf_u64 x) { return x + (LF_EPS & lf_mask((lf_u64)(x >= LF_P))); }

static inline lf_u64 gf_add(lf_u64 a, lf_u64 b) {
    lf_u64 s = a + b;
    lf_u64 over = (lf_u64)(s < a) | (lf_u64)(s >= LF_P);
    return s + (LF_EPS & lf_mask(over));
}

static inline lf_u64 gf_sub(lf_u64 a, lf_u64 b) {
    lf_u64 d = a - b;
    return d - (LF_EPS & lf_mask((lf_u64)(a < b)));
}

static inline lf_u64 gf_mul(lf_u64 a, lf_u64 b) { return gf_red((lf_u128)a * b); }

/* x^e for a public exponent e. */
static lf_u64 gf_pow(lf_u64 x, lf_u64 e) {
    lf_u64 r = 1;
    while (e) {
        if (e & 1) r = gf_mul(r, x);
        x = gf_mul(x, x);
        e >>= 1;
    }
    return r;
}

static inline lf_u64 gf_inv(lf_u64 x) { return gf_pow(x, LF_P - 2); } /* 0 -> 0 */

/* ---------------------------------------------------------------------------------------------
 * GF(p^5) = GF(p)[z]/(z^5 - 3)
 * ------------------------------------------------------------------------------------------- */

typedef struct { lf_u64 v[5]; } f5;

static inline f5 f5_add(f5 a, f5 b) {
    f5 r;
    for (int i = 0; i < 5; i++) r.v[i] = gf_add(a.v[i], b.v[i]);
    return r;
}

static inline f5 f5_sub(f5 a, f5 b) {
    f5 r;
    for (int i = 0; i < 5; i++) r.v[i] = gf_sub(a.v[i], b.v[i]);
    return r;
}

static inline f5 f5_dbl(f5 a) { return f5_add(a, a); }

#define LF_M(x, y) ((lf_u128)gf_red_nc((lf_u128)(x) * (y)))

/* Sum of up to 5 products kept as acc + carry * 2^128; 2^128 = -2^32 (mod p). */
#define LF_ACC(x, y)                          \
    do {                                      \
        lf_u128 prod_ = (lf_u128)(x) * (y);   \
        acc += prod_;                         \
        carry += (lf_u64)(acc < prod_);       \
    } while (0)

static inline lf_u64 gf_red_acc(lf_u128 acc, lf_u64 carry) {
    return gf_sub(gf_red(acc), carry << 32);
}

static inline lf_u64 gf_triple(lf_u64 x) { return gf_red((lf_u128)x * 3); }

LF_INLINE f5 f5_mul(f5 a, f5 b) {
    const lf_u64 a0 = a.v[0], a1 = a.v[1], a2 = a.v[2], a3 = a.v[3], a4 = a.v[4];
    const lf_u64 b0 = b.v[0], b1 = b.v[1], b2 = b.v[2], b3 = b.v[3], b4 = b.v[4];
    const lf_u64 t1 = gf_triple(b1), t2 = gf_triple(b2), t3 = gf_triple(b3), t4 = gf_triple(b4);
    f5 r;
    lf_u128 acc;
    lf_u64 carry;
    acc = 0; carry = 0;
    LF_ACC(a0, b0); LF_ACC(a1, t4); LF_ACC(a2, t3); LF_ACC(a3, t2); LF_ACC(a4, t1);
    r.v[0] = gf_red_acc(acc, carry);
    acc = 0; carry = 0;
    LF_ACC(a0, b1); LF_ACC(a1, b0); LF_ACC(a2, t4); LF_ACC(a3, t3); LF_ACC(a4, t2);
    r.v[1] = gf_red_acc(acc, carry);
    acc = 0; carry = 0;
    LF_ACC(a0, b2); LF_ACC(a1, b1); LF_ACC(a2, b0); LF_ACC(a3, t4); LF_ACC(a4, t3);
    r.v[2] = gf_red_acc(acc, carry);
    acc = 0; carry = 0;
    LF_ACC(a0, b3); LF_ACC(a1, b2); LF_ACC(a2, b1); LF_ACC(a3, b0); LF_ACC(a4, t4);
    r.v[3] = gf_red_acc(acc, carry);
    acc = 0; carry = 0;
    LF_ACC(a0, b4); LF_ACC(a1, b3); LF_ACC(a2, b2); LF_ACC(a3, b1); LF_ACC(a4, b0);
    r.v[4] = gf_red_acc(acc, carry);
    return r;
}

static inline f5 f5_sqr(f5 a) {
    const lf_u64 a0 = a.v[0], a1 = a.v[1], a2 = a.v[2], a3 = a.v[3], a4 = a.v[4];
    f5 r;
    r.v[0] = gf_red(LF_M(a0, a0) + 6 * (LF_M(a1, a4) + LF_M(a2, a3)));
    r.v[1] = gf_red(2 * LF_M(a0, a1) + 3 * (2 * LF_M(a2, a4) + LF_M(a3, a3)));
    r.v[2] = gf_red(2 * LF_M(a0, a2) + LF_M(a1, a1) + 6 * LF_M(a3, a4));
    r.v[3] = gf_red(2 * (LF_M(a0, a3) + LF_M(a1, a2)) + 3 * LF_M(a4, a4));
    r.v[4] = gf_red(2 * (LF_M(a0, a4) + LF_M(a1, a3)) + LF_M(a2, a2));
    return r;
}

/* 263 * x for x < p: 263 x = lo + hi 2^64 with hi < 2^9, and 2^64 = EPS (mod p). */
static inline lf_u64 gf_mul263(lf_u64 x) {
    lf_u128 z = (lf_u128)x * LF_B1;
    lf_u64 lo = (lf_u64)z, m = (lf_u64)(z >> 64) * LF_EPS;
    lf_u64 r = lo + m;
    r += LF_EPS & lf_mask((lf_u64)(r < m));
    return gf_canon(r);
}

/* b * x with b = 263 z: z * x = (3 x4, x0, x1, x2, x3). */
static inline f5 f5_mul_b(f5 x) {
    f5 r;
    r.v[0] = gf_mul263(gf_triple(x.v[4]));
    r.v[1] = gf_mul263(x.v[0]);
    r.v[2] = gf_mul263(x.v[1]);
    r.v[3] = gf_mul263(x.v[2]);
    r.v[4] = gf_mul263(x.v[3]);
    return r;
}

static inline f5 f5_scale(f5 x, lf_u64 k) {
    f5 r;
    for (int i = 0; i < 5; i++) r.v[i] = gf_mul(x.v[i], k);
    return r;
}

static inline f5 f5_frob(f5 x, const lf_u64 *w) {
    f5 r;
    for (int i = 0; i < 5; i++) r.v[i] = gf_mul(x.v[i], w[i]);
    return r;
}

static inline int f5_is_zero(f5 x) {
    return (x.v[0] | x.v[1] | x.v[2] | x.v[3] | x.v[4]) == 0;
}

/* f = x^(r-1), r = 1 + p + ... + p^4, and the norm g = x^r in GF(p) (spec 2.2). */
static inline lf_u64 f5_norm_parts(f5 x, f5 *f) {
    f5 d = f5_frob(x, LF_W1);
    f5 e = f5_mul(d, f5_frob(d, LF_W1));
    *f = f5_mul(e, f5_frob(e, LF_W2));
    const lf_u64 *a = x.v, *b = f->v;
    return gf_red(LF_M(a[0], b[0]) + 3 * (LF_M(a[1], b[4]) + LF_M(a[2], b[3]) + LF_M(a[3], b[2]) +
                                          LF_M(a[4], b[1])));
}

/* Inverse, or 0 for 0 (the encoding relies on it). Fixed sequence of operations. */
static inline f5 f5_inv0(f5 x) {
    f5 f;
    lf_u64 g = f5_norm_parts(x, &f);
    return f5_scale(f, gf_inv(g));
}

/* Legendre symbol: 0, 1 or p-1. */
static lf_u64 f5_legendre(f5 x) {
    f5 f;
    return gf_pow(f5_norm_parts(x, &f), (LF_P - 1) >> 1);
}

/* Square root in GF(p) by Tonelli-Shanks (public data only). Returns 0 if none. */
static int gf_sqrt(lf_u64 a, lf_u64 *out) {
    if (a == 0) { *out = 0; return 1; }
    if (gf_pow(a, (LF_P - 1) >> 1) != 1) return 0;
    lf_u64 m = 32, c = 7277203076849721926ULL;
    lf_u64 t = gf_pow(a, 0xFFFFFFFFULL), r = gf_pow(a, 0x80000000ULL);
    while (t != 1) {
        lf_u64 i = 0, t2 = t;
        while (t2 != 1) { t2 = gf_mul(t2, t2); i++; }
        lf_u64 b = c;
        for (lf_u64 j = 0; j + i + 1 < m; j++) b = gf_mul(b, b);
        m = i;
        c = gf_mul(b, b);
        t = gf_mul(t, c);
        r = gf_mul(r, b);
    }
    *out = r;
    return 1;
}

/* Square root in GF(p^5) (spec 2.2; public data only). Returns 0 if x is not a square. */
static int f5_sqrt(f5 x, f5 *out) {
    f5 v = x;
    for (int i = 0; i < 31; i++) v = f5_sqr(v);
    f5 d = v;
    for (int i = 0; i < 32; i++) d = f5_sqr(d);
    d = f5_mul(f5_mul(x, d), f5_inv0(v));
    f5 e = f5_frob(f5_mul(d, f5_frob(d, LF_W2)), LF_W1);
    f5 f = f5_sqr(e);
    const lf_u64 *a = x.v, *b = f.v;
    lf_u64 g = gf_red(LF_M(a[0], b[0]) + 3 * (LF_M(a[1], b[4]) + LF_M(a[2], b[3]) +
                                              LF_M(a[3], b[2]) + LF_M(a[4], b[1])));
    lf_u64 s;
    if (!gf_sqrt(g, &s)) return 0;
    *out = f5_scale(f5_inv0(e), s);
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * ECgFp5 in fractional (x, u) coordinates (spec 2.3)
 * ------------------------------------------------------------------------------------------- */

typedef struct { f5 X, Z, U, T; } lf_pt;
typedef struct { f5 x, u; } lf_apt;

static inline lf_pt lf_pt_neutral(void) {
    lf_pt r;
    memset(&r, 0, sizeof r);
    r.Z.v[0] = 1;
    r.T.v[0] = 1;
    return r;
}

/* Complete addition, 10M. */
LF_HOT static lf_pt lf_pt_add(const lf_pt *p1, const lf_pt *p2) {
    f5 t1 = f5_mul(p1->X, p2->X), t2 = f5_mul(p1->Z, p2->Z);
    f5 t3 = f5_mul(p1->U, p2->U), t4 = f5_mul(p1->T, p2->T);
    f5 t5 = f5_sub(f5_sub(f5_mul(f5_add(p1->X, p1->Z), f5_add(p2->X, p2->Z)), t1), t2);
    f5 t6 = f5_sub(f5_sub(f5_mul(f5_add(p1->U, p1->T), f5_add(p2->U, p2->T)), t3), t4);
    f5 t7 = f5_add(t1, f5_mul_b(t2));
    f5 t8 = f5_mul(t4, t7);
    f5 t9 = f5_mul(t3, f5_dbl(f5_add(f5_mul_b(t5), t7)));
    f5 t10 = f5_mul(f5_add(t4, f5_dbl(t3)), f5_add(t5, t7));
    lf_pt r;
    r.X = f5_mul_b(f5_sub(t10, t8));
    r.Z = f5_sub(t8, t9);
    r.U = f5_mul(t6, f5_sub(f5_mul_b(t2), t1));
    r.T = f5_add(t8, t9);
    return r;
}

/* Addition of an affine point (x2, u2), 8M; (0, 0) is the neutral and works here too. */
static inline lf_pt lf_pt_add_affine(const lf_pt *p1, const lf_apt *p2) {
    f5 t1 = f5_mul(p1->X, p2->x), t2 = p1->Z;
    f5 t3 = f5_mul(p1->U, p2->u), t4 = p1->T;
    f5 t5 = f5_add(p1->X, f5_mul(p2->x, p1->Z));
    f5 t6 = f5_add(p1->U, f5_mul(p2->u, p1->T));
    f5 t7 = f5_add(t1, f5_mul_b(t2));
    f5 t8 = f5_mul(t4, t7);
    f5 t9 = f5_mul(t3, f5_dbl(f5_add(f5_mul_b(t5), t7)));
    f5 t10 = f5_mul(f5_add(t4, f5_dbl(t3)), f5_add(t5, t7));
    lf_pt r;
    r.X = f5_mul_b(f5_sub(t10, t8));
    r.Z = f5_sub(t8, t9);
    r.U = f5_mul(t6, f5_sub(f5_mul_b(t2), t1));
    r.T = f5_add(t8, t9);
    return r;
}

/* w = T / U (0 for the neutral). */
static inline f5 lf_pt_encode(const lf_pt *p) { return f5_mul(p->T, f5_inv0(p->U)); }

/* Decode an encoding w (spec 2.3.5); 0 if w encodes no group element. Public data only. */
static int lf_pt_decode(f5 w, lf_pt *out) {
    if (f5_is_zero(w)) { *out = lf_pt_neutral(); return 1; }
    f5 e = f5_mul(w, w);
    e.v[0] = gf_sub(e.v[0], 2);
    f5 delta = f5_mul(e, e);
    delta.v[1] = gf_sub(delta.v[1], 4 * LF_B1);
    f5 r;
    if (!f5_sqrt(delta, &r)) return 0;
    const lf_u64 half = (LF_P + 1) >> 1;
    f5 x1 = f5_scale(f5_add(e, r), half), x2 = f5_scale(f5_sub(e, r), half);
    f5 x = f5_legendre(x1) == 1 ? x2 : x1;
    memset(out, 0, sizeof *out);
    out->X = x;
    out->Z.v[0] = 1;
    out->U.v[0] = 1;
    out->T = w;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Fixed-base k*G: signed 5-bit windows, 64 rows of 16 affine multiples (d * 32^i * G, d = 1..16)
 * ------------------------------------------------------------------------------------------- */

static lf_apt lf_gtab[64][16];
static int lf_ready = 0;

static inline lf_apt lf_to_affine(const lf_pt *p) {
    /* one inversion for both: 1/(Z T) */
    f5 inv = f5_inv0(f5_mul(p->Z, p->T));
    lf_apt a;
    a.x = f5_mul(f5_mul(p->X, p->T), inv);
    a.u = f5_mul(f5_mul(p->U, p->Z), inv);
    return a;
}

static void lf_init(void) {
    if (lf_ready) return;
    lf_pt base = lf_pt_neutral();
    for (int i = 0; i < 5; i++) base.X.v[i] = LF_GX[i];
    base.U.v[0] = 1;
    base.T.v[0] = 4;
    for (int row = 0; row < 64; row++) {
        lf_pt acc = base;
        lf_gtab[row][0] = lf_to_affine(&acc);
        for (int d = 1; d < 16; d++) {
            acc = lf_pt_add(&acc, &base);
            lf_gtab[row][d] = lf_to_affine(&acc);
        }
        /* next base = 32 * base = 2 * (16 * base) */
        base = lf_pt_add(&acc, &acc);
    }
    lf_ready = 1;
}

/* Bits [pos, pos+5) of a 320-bit little-endian scalar (pos public). */
static inline uint32_t lf_bits5(const lf_u64 k[5], int pos) {
    int limb = pos >> 6, off = pos & 63;
    lf_u64 v = k[limb] >> off;
    if (off > 59 && limb < 4) v |= k[limb + 1] << (64 - off);
    return (uint32_t)(v & 31);
}

/* k*G for a reduced scalar k (< n < 2^319), constant time in k. */
LF_HOT static lf_pt lf_mulgen(const lf_u64 k[5]) {
    lf_pt acc = lf_pt_neutral();
    uint32_t carry = 0;
    for (int row = 0; row < 64; row++) {
        uint32_t v = lf_bits5(k, 5 * row) + carry;      /* 0..32 */
        uint32_t big = (uint32_t)(16 - v) >> 31;         /* v > 16 */
        carry = big;
        /* digit v (<= 16) or v - 32 (< 0; v == 32 gives 0): its magnitude, then its sign */
        uint32_t mag = v ^ ((v ^ ((32 - v) & 31)) & (0u - big));
        lf_apt sel;
        memset(&sel, 0, sizeof sel);
        for (uint32_t j = 1; j <= 16; j++) {
            lf_u64 m = lf_mask((lf_u64)(((mag ^ j) - 1u) >> 31));
            const lf_apt *t = &lf_gtab[row][j - 1];
            for (int i = 0; i < 5; i++) {
                sel.x.v[i] |= t->x.v[i] & m;
                sel.u.v[i] |= t->u.v[i] & m;
            }
        }
        lf_u64 nm = lf_mask((lf_u64)big);
        for (int i = 0; i < 5; i++) {
            lf_u64 nu = gf_sub(0, sel.u.v[i]);
            sel.u.v[i] = (sel.u.v[i] & ~nm) | (nu & nm);
        }
        acc = lf_pt_add_affine(&acc, &sel);
    }
    return acc;
}

/* Variable-time multiplication of a public point by a public scalar (verification only). */
static lf_pt lf_mul_public(const lf_pt *p, const lf_u64 k[5]) {
    lf_pt tab[16];
    tab[0] = lf_pt_neutral();
    for (int i = 1; i < 16; i++) tab[i] = lf_pt_add(&tab[i - 1], p);
    lf_pt acc = lf_pt_neutral();
    for (int pos = 316; pos >= 0; pos -= 4) {
        for (int d = 0; d < 4; d++) acc = lf_pt_add(&acc, &acc);
        int limb = pos >> 6, off = pos & 63;
        unsigned nib = (unsigned)((k[limb] >> off) & 15);
        if (nib) acc = lf_pt_add(&acc, &tab[nib]);
    }
    return acc;
}

/* ---------------------------------------------------------------------------------------------
 * Scalars mod n (constant time)
 * ------------------------------------------------------------------------------------------- */

/* x - n if x >= n (x < 2^320). */
static inline void sc_cond_sub(lf_u64 x[5]) {
    lf_u64 t[5], borrow = 0;
    for (int i = 0; i < 5; i++) {
        lf_u128 d = (lf_u128)x[i] - LF_N[i] - borrow;
        t[i] = (lf_u64)d;
        borrow = (lf_u64)(d >> 64) & 1;
    }
    lf_u64 keep = lf_mask(borrow); /* borrow: x < n, keep x */
    for (int i = 0; i < 5; i++) x[i] = (x[i] & keep) | (t[i] & ~keep);
}

static inline void sc_load(lf_u64 out[5], const uint8_t *b) {
    for (int i = 0; i < 5; i++) {
        lf_u64 v = 0;
        for (int j = 7; j >= 0; j--) v = (v << 8) | b[8 * i + j];
        out[i] = v;
    }
}

static inline void sc_store(uint8_t *b, const lf_u64 x[5]) {
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 8; j++) b[8 * i + j] = (uint8_t)(x[i] >> (8 * j));
}

/* Any 40-byte little-endian value mod n (2^320 < 3n). */
static void lf_sc_from_bytes(const uint8_t *b, lf_u64 out[5]) {
    sc_load(out, b);
    sc_cond_sub(out);
    sc_cond_sub(out);
}

static inline void sc_add(lf_u64 r[5], const lf_u64 a[5], const lf_u64 b[5]) {
    lf_u64 c = 0;
    for (int i = 0; i < 5; i++) {
        lf_u128 s = (lf_u128)a[i] + b[i] + c;
        r[i] = (lf_u64)s;
        c = (lf_u64)(s >> 64);
    }
    sc_cond_sub(r); /* a + b < 2n < 2^320 */
}

static inline void sc_sub(lf_u64 r[5], const lf_u64 a[5], const lf_u64 b[5]) {
    lf_u64 borrow = 0, t[5];
    for (int i = 0; i < 5; i++) {
        lf_u128 d = (lf_u128)a[i] - b[i] - borrow;
        t[i] = (lf_u64)d;
        borrow = (lf_u64)(d >> 64) & 1;
    }
    lf_u64 m = lf_mask(borrow), c = 0;
    for (int i = 0; i < 5; i++) {
        lf_u128 s = (lf_u128)t[i] + (LF_N[i] & m) + c;
        r[i] = (lf_u64)s;
        c = (lf_u64)(s >> 64);
    }
}

/* Montgomery product a*b/2^320 mod n (CIOS), a, b < n. */
static void sc_montmul(lf_u64 r[5], const lf_u64 a[5], const lf_u64 b[5]) {
    lf_u64 t[7] = {0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        lf_u128 z;
        lf_u64 c = 0;
        for (int j = 0; j < 5; j++) {
            z = (lf_u128)a[j] * b[i] + t[j] + c;
            t[j] = (lf_u64)z;
            c = (lf_u64)(z >> 64);
        }
        z = (lf_u128)t[5] + c;
        t[5] = (lf_u64)z;
        t[6] = (lf_u64)(z >> 64);
        lf_u64 m = t[0] * LF_N0INV;
        z = (lf_u128)m * LF_N[0] + t[0];
        c = (lf_u64)(z >> 64);
        for (int j = 1; j < 5; j++) {
            z = (lf_u128)m * LF_N[j] + t[j] + c;
            t[j - 1] = (lf_u64)z;
            c = (lf_u64)(z >> 64);
        }
        z = (lf_u128)t[5] + c;
        t[4] = (lf_u64)z;
        t[5] = t[6] + (lf_u64)(z >> 64);
    }
    /* t < 2n < 2^320, so t[5] == 0 */
    for (int i = 0; i < 5; i++) r[i] = t[i];
    sc_cond_sub(r);
}

static inline void sc_mul(lf_u64 r[5], const lf_u64 a[5], const lf_u64 b[5]) {
    lf_u64 t[5];
    sc_montmul(t, a, b);
    sc_montmul(r, t, LF_R2);
}

/* A 64-byte little-endian value mod n: lo (40 B) + hi (24 B) * 2^320. For hedged nonces. */
static void lf_sc_from_wide(const uint8_t *b, lf_u64 out[5]) {
    lf_u64 lo[5], hi[5] = {0, 0, 0, 0, 0}, h[5];
    lf_sc_from_bytes(b, lo);
    for (int i = 0; i < 3; i++) {
        lf_u64 v = 0;
        for (int j = 7; j >= 0; j--) v = (v << 8) | b[40 + 8 * i + j];
        hi[i] = v;
    }
    sc_montmul(h, hi, LF_R2); /* hi * 2^320 mod n */
    sc_add(out, lo, h);
}

/* ---------------------------------------------------------------------------------------------
 * Poseidon2, width 12 (spec 3)
 * ------------------------------------------------------------------------------------------- */

/* Inside the permutation values stay < 2^64 but may be >= p (reduced lazily), and each round's
 * constants are added inside the linear layer before it (one reduction per word, not two).
 * Poseidon2 only ever sees public data (tx words, r || msg, token text), but it is branch-free
 * anyway. */

/* gf_red_nc for x < 2^96 (hi < 2^32, so hi * EPS < 2^64): lo + hi * EPS. */
LF_INLINE lf_u64 p2_red_small(lf_u128 x) {
    lf_u64 lo = (lf_u64)x, hi = (lf_u64)(x >> 64), r;
    unsigned carry = __builtin_add_overflow(lo, (hi << 32) - hi, &r);
    return r + (lf_u64)(uint32_t)(0u - carry);
}

LF_INLINE lf_u64 p2_mul(lf_u64 a, lf_u64 b) { return gf_red_nc((lf_u128)a * b); }

LF_INLINE lf_u64 p2_sbox(lf_u64 x) {
    lf_u64 x2 = p2_mul(x, x), x3 = p2_mul(x2, x), x4 = p2_mul(x2, x2);
    return p2_mul(x3, x4);
}

/* The external layer circ(2 M4, M4, M4) (M4 in 8 additions), plus rc, the constants of the round
 * that follows. Inputs < 2^64; every sum stays below 29 * 2^64, so one short reduction each. */
LF_INLINE void p2_external(lf_u64 s[12], const lf_u64 rc[12]) {
    lf_u128 o[12];
    for (int b = 0; b < 12; b += 4) {
        lf_u128 x0 = s[b], x1 = s[b + 1], x2 = s[b + 2], x3 = s[b + 3];
        lf_u128 t01 = x0 + x1, t23 = x2 + x3, t0123 = t01 + t23;
        lf_u128 t01123 = t0123 + x1, t01233 = t0123 + x3;
        o[b] = t01123 + t01;          /* 2 3 1 1 */
        o[b + 1] = t01123 + 2 * x2;   /* 1 2 3 1 */
        o[b + 2] = t01233 + t23;      /* 1 1 2 3 */
        o[b + 3] = t01233 + 2 * x0;   /* 3 1 1 2 */
    }
    for (int k = 0; k < 4; k++) {
        lf_u128 sum = o[k] + o[4 + k] + o[8 + k];
        s[k] = p2_red_small(o[k] + sum + rc[k]);
        s[4 + k] = p2_red_small(o[4 + k] + sum + rc[4 + k]);
        s[8 + k] = p2_red_small(o[8 + k] + sum + rc[8 + k]);
    }
}

static const lf_u64 LF_RC_TO_PARTIAL[12] = {0xa571418d95897b60ULL}; /* LF_RC_I[0] for s[0] */
static const lf_u64 LF_RC_NONE[12] = {0};
#define LF_DIAG0_PLUS1 0xc3b6c08e23ba9301ULL /* 1 + LF_DIAG[0] (< p) */

/* A full round: the S-box on every word (its constants already added), the external layer. */
LF_INLINE void p2_full(lf_u64 s[12], const lf_u64 *rc_next) {
    for (int i = 0; i < 12; i++) s[i] = p2_sbox(s[i]);
    p2_external(s, rc_next);
}

/* The permutation (inputs any u64 congruent to the state; output canonical). Partial rounds:
 * x = sbox(s0 + c), sum = x + s1 + .. + s11, s0 = sum + d0 x, si = sum + di si. */
LF_HOT static void lf_permute(lf_u64 s[12]) {
    p2_external(s, LF_RC_E[0]);
    for (int r = 0; r < 4; r++) p2_full(s, r < 3 ? LF_RC_E[r + 1] : LF_RC_TO_PARTIAL);
    for (int r = 0; r < 22; r++) {
        lf_u64 x = p2_sbox(s[0]);
        lf_u128 rest = ((((lf_u128)s[1] + s[2]) + ((lf_u128)s[3] + s[4])) +
                        (((lf_u128)s[5] + s[6]) + ((lf_u128)s[7] + s[8]))) +
                       (((lf_u128)s[9] + s[10]) + s[11]); /* < 11 * 2^64 */
        lf_u128 sum = rest + x;
        /* products < p * 2^64, so every sum below stays under 2^128 */
        if (r < 21) {
            s[0] = gf_red_nc(rest + (lf_u128)LF_DIAG0_PLUS1 * x + LF_RC_I[r + 1]);
            for (int i = 1; i < 12; i++) s[i] = gf_red_nc(sum + (lf_u128)LF_DIAG[i] * s[i]);
        } else { /* the last one adds the next full round's constants */
            s[0] = gf_red_nc(rest + (lf_u128)LF_DIAG0_PLUS1 * x + LF_RC_E[4][0]);
            for (int i = 1; i < 12; i++)
                s[i] = gf_red_nc(sum + (lf_u128)LF_DIAG[i] * s[i] + LF_RC_E[4][i]);
        }
    }
    for (int r = 4; r < 8; r++) p2_full(s, r < 7 ? LF_RC_E[r + 1] : LF_RC_NONE);
    for (int i = 0; i < 12; i++) s[i] = gf_canon(s[i]);
}

/* Overwrite-mode sponge, rate 8, no padding; the first m (<= 12) words. Inputs any u64. */
static void lf_hash(const lf_u64 *in, size_t n, lf_u64 *out, int m) {
    lf_u64 s[12] = {0};
    for (size_t i = 0; i < n; i += 8) {
        size_t len = n - i < 8 ? n - i : 8;
        for (size_t j = 0; j < len; j++) s[j] = gf_canon(in[i + j]);
        lf_permute(s);
    }
    for (int j = 0; j < m; j++) out[j] = s[j];
}

/* The signed message of a tx: H5(words), then H5(that || H5(attr8)) when attributes exist. */
static void lf_tx_message(const lf_u64 *words, size_t n, const lf_u64 *attr8, lf_u64 out[5]) {
    lf_hash(words, n, out, 5);
    if (attr8) {
        lf_u64 buf[10];
        for (int i = 0; i < 5; i++) buf[i] = out[i];
        lf_hash(attr8, 8, buf + 5, 5);
        lf_hash(buf, 10, out, 5);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Schnorr (spec 4)
 * ------------------------------------------------------------------------------------------- */

/* encode(k*G) for a reduced scalar. */
static void lf_mulgen_encode(const lf_u64 k[5], lf_u64 out[5]) {
    lf_pt r = lf_mulgen(k);
    f5 w = lf_pt_encode(&r);
    for (int i = 0; i < 5; i++) out[i] = w.v[i];
}

/* e = H5(r || m) as a 320-bit little-endian integer mod n. */
static inline void lf_challenge(const lf_u64 r[5], const lf_u64 msg[5], lf_u64 e[5]) {
    lf_u64 buf[10];
    for (int i = 0; i < 5; i++) { buf[i] = r[i]; buf[5 + i] = msg[i]; }
    lf_hash(buf, 10, e, 5);
    sc_cond_sub(e);
    sc_cond_sub(e);
}

/* sig = s || e (40 + 40 bytes LE), s = k - e*sk mod n, for a nonce k whose encode(k*G) is r
 * (precomputed: the nonce pool); sk and k reduced, msg canonical. */
static void lf_sign_r(const lf_u64 sk[5], const lf_u64 msg[5], const lf_u64 k[5],
                      const lf_u64 r[5], uint8_t *sig) {
    lf_u64 e[5], es[5], s[5];
    lf_challenge(r, msg, e);
    sc_mul(es, e, sk);
    sc_sub(s, k, es);
    sc_store(sig, s);
    sc_store(sig + 40, e);
    memset(es, 0, sizeof es);
}

/* The same with r computed here (one fixed-base k*G, most of the signing time). */
static void lf_sign(const lf_u64 sk[5], const lf_u64 msg[5], const lf_u64 k[5], uint8_t *sig) {
    lf_u64 r[5];
    lf_mulgen_encode(k, r);
    lf_sign_r(sk, msg, k, r, sig);
}

/* poseidon_crypto Validate (s, e reduced mod n on read); 1 = valid. Public data only. */
static int lf_verify(const lf_u64 pub[5], const lf_u64 msg[5], const uint8_t *sig) {
    lf_u64 s[5], e[5], r[5], e2[5];
    f5 w;
    lf_pt q;
    for (int i = 0; i < 5; i++) {
        if (pub[i] >= LF_P) return 0;
        w.v[i] = pub[i];
    }
    if (!lf_pt_decode(w, &q)) return 0;
    lf_sc_from_bytes(sig, s);
    lf_sc_from_bytes(sig + 40, e);
    lf_pt sg = lf_mulgen(s), eq = lf_mul_public(&q, e);
    lf_pt rp = lf_pt_add(&sg, &eq);
    f5 rw = lf_pt_encode(&rp);
    for (int i = 0; i < 5; i++) r[i] = rw.v[i];
    lf_challenge(r, msg, e2);
    lf_u64 diff = 0;
    for (int i = 0; i < 5; i++) diff |= e[i] ^ e2[i];
    return diff == 0;
}

/* 1 if w (canonical limbs required) decodes to a group element. */
static int lf_decodes(const lf_u64 w[5]) {
    f5 x;
    lf_pt q;
    for (int i = 0; i < 5; i++) {
        if (w[i] >= LF_P) return 0;
        x.v[i] = w[i];
    }
    return lf_pt_decode(x, &q);
}

/* ---------------------------------------------------------------------------------------------
 * tx_info text (public data only: the signer's hot path prints its JSON here)
 * ------------------------------------------------------------------------------------------- */

static const char LF_DIGITS2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* v in decimal at p (what Python's str(v) prints); returns the end. */
static char *lf_put_u64(char *p, lf_u64 v) {
    char tmp[20];
    int n = 20;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100);
        v /= 100;
        tmp[--n] = LF_DIGITS2[2 * d + 1];
        tmp[--n] = LF_DIGITS2[2 * d];
    }
    if (v >= 10) {
        tmp[--n] = LF_DIGITS2[2 * v + 1];
        tmp[--n] = LF_DIGITS2[2 * v];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    memcpy(p, tmp + n, (size_t)(20 - n));
    return p + (20 - n);
}

static char *lf_put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

/* Standard base64 with padding (binascii.b2a_base64(b, newline=False)). */
static char *lf_put_b64(char *p, const uint8_t *b, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)b[i] << 16) | ((uint32_t)b[i + 1] << 8) | b[i + 2];
        p[0] = tab[v >> 18];
        p[1] = tab[(v >> 12) & 63];
        p[2] = tab[(v >> 6) & 63];
        p[3] = tab[v & 63];
        p += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n) v |= (uint32_t)b[i + 1] << 8;
        p[0] = tab[v >> 18];
        p[1] = tab[(v >> 12) & 63];
        p[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        p[3] = '=';
        p += 4;
    }
    return p;
}

/* The 80 lowercase hex digits of a message's 40 little-endian bytes (bytes.hex()). */
static void lf_hex_f5(char *p, const lf_u64 x[5]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 8; j++) {
            unsigned v = (unsigned)(x[i] >> (8 * j)) & 255u;
            *p++ = hex[v >> 4];
            *p++ = hex[v & 15];
        }
}

/* Milliseconds since the epoch: time.time_ns() // 10^6 (the same CLOCK_REALTIME). */
static long long lf_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define LF_PUT_LIT(p, s) lf_put((p), (s), sizeof(s) - 1)

/* tx_info of a flat tx (every field one integer word): w = chain id, tx type, nonce, ExpiredAt,
 * account, key index, then the nf fields named names[i] (`"Name":`, lens[i] bytes); tail = the
 * attributes' JSON and the closing brace. Returns the end (at most 704 + tail_len bytes). */
static char *lf_tx_json(char *p, const lf_u64 *w, int nf, const char *const *names,
                        const size_t *lens, const uint8_t sig[80], const char *tail,
                        size_t tail_len) {
    p = LF_PUT_LIT(p, "{\"AccountIndex\":");
    p = lf_put_u64(p, w[4]);
    p = LF_PUT_LIT(p, ",\"ApiKeyIndex\":");
    p = lf_put_u64(p, w[5]);
    for (int i = 0; i < nf; i++) {
        *p++ = ',';
        p = lf_put(p, names[i], lens[i]);
        p = lf_put_u64(p, w[6 + i]);
    }
    p = LF_PUT_LIT(p, ",\"ExpiredAt\":");
    p = lf_put_u64(p, w[3]);
    p = LF_PUT_LIT(p, ",\"Nonce\":");
    p = lf_put_u64(p, w[2]);
    p = LF_PUT_LIT(p, ",\"Sig\":\"");
    p = lf_put_b64(p, sig, 80);
    p = LF_PUT_LIT(p, "\",\"L2TxAttributes\":");
    return lf_put(p, tail, tail_len);
}

#endif /* LIGHTERFAST_NATIVE_IMPL_H */
