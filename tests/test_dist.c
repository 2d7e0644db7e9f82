/* optim/dist: run as `mpirun -np 2 test_dist` (and as a single rank without mpirun).
 * Checks the allreduce average, broadcast, scalar sums, max, reduce-scatter + all-gather
 * (ZeRO-1), pieces of sharded buffers fetched by rank 0, and the consistency check. Exits non-zero on failure on any rank.
 * `test_dist abort`: a CHECK failing on one rank takes every rank down (no hang). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "optim/dist.h"
#define EXPECT_WITH_RANK dist_rank
#include "tests/expect.h"

static float value(int rank, size_t i) { return (float)((rank + 1) * 0.25 + (double)(i % 97) * 0.125); }

int main(int argc, char **argv) {
    dist_init(&argc, &argv);
    const int rank = dist_rank(), size = dist_size();
    if (argc > 1 && !strcmp(argv[1], "abort")) {
        /* a CHECK failing on the last rank must stop the others, which wait in a barrier */
        CHECK(size == 1 || rank != size - 1, "rank %d stops on purpose", rank);
        dist_barrier();
        if (size > 1) fprintf(stderr, "rank %d passed the barrier: the abort hook did not work\n", rank);
        dist_finalize();
        return size > 1 ? 3 : 0;
    }
    int want_size = argc > 1 ? atoi(argv[1]) : 0;
    if (want_size) EXPECT(size == want_size, "expected %d ranks, got %d", want_size, size);

    /* allreduce average: values exact in binary so the mean is exact */
    const size_t n = 100003;
    float *g = mallocCheck(n * sizeof(float));
    for (size_t i = 0; i < n; i++) g[i] = value(rank, i);
    dist_allreduce_mean(g, n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double want = 0;
        for (int r = 0; r < size; r++) want += (double)value(r, i);
        want /= size;
        if (fabs((double)g[i] - want) > 1e-6 * fabs(want)) bad++;
    }
    EXPECT(bad == 0, "allreduce mean wrong at %d places", bad);
    EXPECT(dist_same_on_all(g, n), "averaged gradient differs between ranks");

    /* broadcast from rank 0 */
    float *p = mallocCheck(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = rank == 0 ? (float)i : -1.0f;
    int same = dist_same_on_all(p, n); /* collective: every rank calls it */
    EXPECT(size == 1 || !same, "dist_same_on_all misses a difference");
    dist_broadcast_f32(p, n, 0);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += p[i] != (float)i;
    EXPECT(bad == 0, "broadcast wrong at %d places", bad);
    EXPECT(dist_same_on_all(p, n), "broadcast params differ");
    char text[16];
    snprintf(text, sizeof text, "rank%d", rank);
    dist_broadcast_bytes(text, sizeof text, 0);
    EXPECT(!strcmp(text, "rank0"), "byte broadcast: %s", text);

    /* scalars */
    double loss = dist_sum_double(1.5 * (rank + 1));
    EXPECT(loss == 1.5 * size * (size + 1) / 2, "double sum %g", loss);
    int64_t tokens = dist_sum_i64(1000000000000LL + rank);
    EXPECT(tokens == 1000000000000LL * size + (int64_t)size * (size - 1) / 2, "int64 sum %lld", (long long)tokens);
    int mx1 = dist_max_int(rank == size - 1), mx0 = dist_max_int(0);
    EXPECT(mx1 == 1 && mx0 == 0, "max");

    /* ZeRO-1: reduce-scatter mean + all-gather == allreduce mean */
    for (size_t i = 0; i < n; i++) p[i] = value(rank, i);
    dist_reduce_scatter_mean(p, n);
    size_t lo, hi;
    dist_shard(n, rank, size, &lo, &hi);
    bad = 0;
    for (size_t i = lo; i < hi; i++) bad += p[i] != g[i];
    EXPECT(bad == 0, "reduce-scatter shard [%zu,%zu) wrong at %d places", lo, hi, bad);
    for (size_t i = 0; i < n; i++)
        if (i < lo || i >= hi) p[i] = NAN;
    dist_allgather(p, n);
    EXPECT(!memcmp(p, g, n * sizeof(float)), "all-gather does not rebuild the averaged buffer");
    size_t total = 0, prev_hi = 0;
    for (int r = 0; r < 3; r++) {
        dist_shard(10, r, 3, &lo, &hi);
        EXPECT(lo == prev_hi, "shards are not contiguous");
        total += hi - lo;
        prev_hi = hi;
    }
    EXPECT(total == 10, "shards do not cover the buffer");

    /* pieces of two sharded buffers fetched by rank 0 across the shards' borders (the
     * checkpoint writer's streaming of the ZeRO-1 moments): every piece equals the whole */
    dist_shard(n, rank, size, &lo, &hi);
    float *sh[2] = {mallocCheck((hi - lo + 1) * sizeof(float)), mallocCheck((hi - lo + 1) * sizeof(float))};
    for (size_t i = lo; i < hi; i++) sh[0][i - lo] = (float)i, sh[1][i - lo] = -0.5f * (float)i;
    if (rank == 0) {
        const float *bufs[2] = {sh[0], sh[1]};
        const size_t step = n / 7 + 3, len[3] = {1, n / 5, step};
        bad = 0;
        for (int k = 0; k < 2; k++)
            for (size_t off = 0; off < n; off += step) {
                size_t c = len[off % 3] < n - off ? len[off % 3] : n - off;
                for (size_t i = 0; i < c; i++) p[i] = NAN;
                dist_fetch_piece(bufs, k, off, c, n, p);
                for (size_t i = 0; i < c; i++)
                    if (p[i] != (k ? -0.5f : 1.0f) * (float)(off + i) && bad++ < 3)
                        fprintf(stderr, "piece %d [%zu,+%zu) at %zu: %g\n", k, off, c, off + i, (double)p[i]);
            }
        dist_fetch_done();
        EXPECT(bad == 0, "fetched pieces wrong at %d places", bad);
    } else {
        const float *bufs[2] = {sh[0], sh[1]};
        dist_serve_pieces(bufs, 2, n);
    }
    free(sh[0]);
    free(sh[1]);

    dist_barrier();
    int any = dist_max_int(failures > 0);
    if (rank == 0) printf("test_dist: %d rank(s): %s\n", size, any ? "FAILED" : "all passed");
    free(g);
    free(p);
    dist_finalize();
    return any ? 1 : 0;
}
