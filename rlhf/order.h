/* Deterministic, resumable order over documents (preference pairs, prompts): epoch e visits
 * the eligible documents in a permutation drawn from (seed, e); position p of the endless
 * stream is document perm_{p / n}[p mod n]. The whole cursor is the position p, so resuming
 * needs one integer, and every rank walks the same stream (rank r takes its slots of each
 * global batch). */
#ifndef GRIFFIN_ORDER_H
#define GRIFFIN_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;          /* eligible documents */
    size_t *ids;       /* [n] their indices in the corpus */
    size_t *perm;      /* [n] the current epoch's order */
    uint64_t seed;
    int64_t epoch;     /* epoch of perm, -1 before the first */
} DocOrder;

/* takes ownership of ids (malloc'd, n > 0) */
void doc_order_init(DocOrder *o, size_t *ids, size_t n, uint64_t seed);
void doc_order_free(DocOrder *o);
/* the corpus index at stream position pos */
size_t doc_order_at(DocOrder *o, uint64_t pos);

#endif
