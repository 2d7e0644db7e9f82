#include "order.h"

#include <stdlib.h>

#include "common/check.h"
#include "common/rng.h"

void doc_order_init(DocOrder *o, size_t *ids, size_t n, uint64_t seed) {
    CHECK(n > 0, "doc_order_init: no documents");
    o->n = n;
    o->ids = ids;
    o->perm = mallocCheck(sizeof(size_t) * n);
    o->seed = seed;
    o->epoch = -1;
}

void doc_order_free(DocOrder *o) {
    free(o->ids);
    free(o->perm);
    o->ids = o->perm = NULL;
}

size_t doc_order_at(DocOrder *o, uint64_t pos) {
    int64_t e = (int64_t)(pos / o->n);
    if (e != o->epoch) { /* Fisher-Yates from the epoch's own stream */
        Rng r;
        rng_seed(&r, o->seed, 0x6f72646572ULL + (uint64_t)e);
        for (size_t i = 0; i < o->n; i++) o->perm[i] = o->ids[i];
        for (size_t i = o->n; i > 1; i--) {
            size_t j = (size_t)rng_below(&r, i);
            size_t t = o->perm[i - 1];
            o->perm[i - 1] = o->perm[j];
            o->perm[j] = t;
        }
        o->epoch = e;
    }
    return o->perm[pos % o->n];
}
