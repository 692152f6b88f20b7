/* The local node's fast Schnorr verify: the client's C core (signing/_native_impl.h) plus a
 * per-public-key table, so e*Q costs 64 mixed additions instead of 320 doublings.
 *
 * Verification handles public data only (keys, messages, signatures), so everything here is
 * variable time. lf_verify in the core stays the reference; the tests check the two agree.
 */
#ifndef LIGHTERFAST_TESTNODE_VERIFY_IMPL_H
#define LIGHTERFAST_TESTNODE_VERIFY_IMPL_H

#include <stdlib.h>

#include "_native_impl.h"

#define LFN_ROWS 64
#define LFN_COLS 16

/* tab[row][d - 1] = d * 32^row * P (affine), d = 1..16, like the core's lf_gtab for G. */
static void lfn_table_fill(lf_pt base, lf_apt *tab) {
    for (int row = 0; row < LFN_ROWS; row++) {
        lf_pt acc = base;
        tab[row * LFN_COLS] = lf_to_affine(&acc);
        for (int d = 1; d < LFN_COLS; d++) {
            acc = lf_pt_add(&acc, &base);
            tab[row * LFN_COLS + d] = lf_to_affine(&acc);
        }
        base = lf_pt_add(&acc, &acc); /* 32 * base = 2 * (16 * base) */
    }
}

/* A new table for the public key pub (canonical limbs), or NULL if pub encodes no point. */
static void *lfn_table_new(const lf_u64 pub[5]) {
    f5 w;
    lf_pt q;
    for (int i = 0; i < 5; i++) {
        if (pub[i] >= LF_P) return NULL;
        w.v[i] = pub[i];
    }
    if (!lf_pt_decode(w, &q)) return NULL;
    lf_apt *tab = (lf_apt *)malloc(sizeof(lf_apt) * LFN_ROWS * LFN_COLS);
    if (tab) lfn_table_fill(q, tab);
    return tab;
}

static void lfn_table_free(void *tab) { free(tab); }

/* k*P for a reduced scalar k (< n < 2^319) from P's table: signed 5-bit digits. */
static lf_pt lfn_mul_table(const lf_apt *tab, const lf_u64 k[5]) {
    lf_pt acc = lf_pt_neutral();
    uint32_t carry = 0;
    for (int row = 0; row < LFN_ROWS; row++) {
        uint32_t v = lf_bits5(k, 5 * row) + carry; /* 0..32 */
        carry = v > 16;
        uint32_t mag = carry ? 32 - v : v;         /* digit v or v - 32 */
        if (mag == 0) continue;
        lf_apt sel = tab[row * LFN_COLS + mag - 1];
        if (carry)
            for (int i = 0; i < 5; i++) sel.u.v[i] = gf_sub(0, sel.u.v[i]); /* -P: u -> -u */
        acc = lf_pt_add_affine(&acc, &sel);
    }
    return acc;
}

/* poseidon_crypto Validate with Q's table (s, e read mod n); 1 = valid. msg canonical. */
static int lfn_verify(const void *qtab, const lf_u64 msg[5], const uint8_t *sig) {
    lf_u64 s[5], e[5], r[5], e2[5];
    lf_sc_from_bytes(sig, s);
    lf_sc_from_bytes(sig + 40, e);
    lf_pt sg = lfn_mul_table(&lf_gtab[0][0], s), eq = lfn_mul_table((const lf_apt *)qtab, e);
    lf_pt rp = lf_pt_add(&sg, &eq);
    f5 rw = lf_pt_encode(&rp);
    for (int i = 0; i < 5; i++) r[i] = rw.v[i];
    lf_challenge(r, msg, e2);
    lf_u64 diff = 0;
    for (int i = 0; i < 5; i++) diff |= e[i] ^ e2[i];
    return diff == 0;
}

#endif /* LIGHTERFAST_TESTNODE_VERIFY_IMPL_H */
