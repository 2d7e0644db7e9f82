#include "dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/check.h"

#define DIST_CHUNK ((size_t)1 << 28) /* elements per MPI call, well below INT_MAX */

static int g_rank = 0, g_size = 1;

static int mpi_live(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

static void abort_hook(int code) { dist_abort(code); }
/* a user's mistake every rank knows (common/check.h): every rank leaves MPI and exits 2 */
static void fail_hook(void) {
    if (mpi_live()) MPI_Finalize();
}

#define MPI_CHECK(call)                                                     \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != MPI_SUCCESS) {                                           \
            char msg_[MPI_MAX_ERROR_STRING];                                \
            int len_ = 0;                                                   \
            MPI_Error_string(rc_, msg_, &len_);                             \
            DIE("rank %d: %s failed: %s", g_rank, #call, msg_);             \
        }                                                                   \
    } while (0)

void dist_init(int *argc, char ***argv) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
        int provided = 0;
        MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
        CHECK(provided >= MPI_THREAD_FUNNELED, "MPI does not provide MPI_THREAD_FUNNELED");
    }
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &g_size));
    griffin_abort_hook = abort_hook;
    griffin_fail_hook = fail_hook;
    griffin_fail_quiet = g_rank != 0;
}

void dist_finalize(void) {
    if (mpi_live()) MPI_Finalize();
    if (griffin_abort_hook == abort_hook) griffin_abort_hook = NULL;
    if (griffin_fail_hook == fail_hook) griffin_fail_hook = NULL;
    griffin_fail_quiet = 0;
}

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }

void dist_abort(int code) {
    if (mpi_live()) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void dist_barrier(void) {
    if (g_size > 1) MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}

static void allreduce(void *buf, size_t n, MPI_Datatype type, size_t elsize, MPI_Op op) {
    if (g_size == 1) return;
    char *p = buf;
    for (size_t off = 0; off < n; off += DIST_CHUNK) {
        size_t c = n - off < DIST_CHUNK ? n - off : DIST_CHUNK;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, p + off * elsize, (int)c, type, op, MPI_COMM_WORLD));
    }
}

void dist_allreduce_sum_f32(float *buf, size_t n) { allreduce(buf, n, MPI_FLOAT, 4, MPI_SUM); }
void dist_allreduce_sum_f64(double *buf, size_t n) { allreduce(buf, n, MPI_DOUBLE, 8, MPI_SUM); }
void dist_allreduce_sum_i64(int64_t *buf, size_t n) { allreduce(buf, n, MPI_INT64_T, 8, MPI_SUM); }

void dist_allreduce_mean(float *buf, size_t n) {
    if (g_size == 1) return;
    dist_allreduce_sum_f32(buf, n);
    const float s = (float)(1.0 / g_size);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long i = 0; i < (long)n; i++) buf[i] *= s;
}

double dist_sum_double(double x) {
    dist_allreduce_sum_f64(&x, 1);
    return x;
}

int64_t dist_sum_i64(int64_t x) {
    dist_allreduce_sum_i64(&x, 1);
    return x;
}

int dist_max_int(int x) {
    allreduce(&x, 1, MPI_INT, sizeof(int), MPI_MAX);
    return x;
}

double dist_max_double(double x) {
    allreduce(&x, 1, MPI_DOUBLE, sizeof(double), MPI_MAX);
    return x;
}

void dist_broadcast_bytes(void *buf, size_t nbytes, int root) {
    if (g_size == 1) return;
    char *p = buf;
    for (size_t off = 0; off < nbytes; off += DIST_CHUNK) {
        size_t c = nbytes - off < DIST_CHUNK ? nbytes - off : DIST_CHUNK;
        MPI_CHECK(MPI_Bcast(p + off, (int)c, MPI_BYTE, root, MPI_COMM_WORLD));
    }
}

void dist_broadcast_f32(float *buf, size_t n, int root) {
    dist_broadcast_bytes(buf, n * sizeof(float), root);
}

void dist_shard(size_t n, int rank, int size, size_t *lo, size_t *hi) {
    size_t base = n / (size_t)size, rem = n % (size_t)size, r = (size_t)rank;
    *lo = r * base + (r < rem ? r : rem);
    *hi = *lo + base + (r < rem ? 1 : 0);
}

/* per-rank counts and displacements, checked against the int limits of MPI */
static void shard_counts(size_t n, int **counts, int **displs) {
    CHECK(n <= (size_t)INT_MAX, "ZeRO-1 sharding supports at most %d floats (got %zu)", INT_MAX, n);
    *counts = mallocCheck(sizeof(int) * (size_t)g_size);
    *displs = mallocCheck(sizeof(int) * (size_t)g_size);
    for (int r = 0; r < g_size; r++) {
        size_t lo, hi;
        dist_shard(n, r, g_size, &lo, &hi);
        (*counts)[r] = (int)(hi - lo);
        (*displs)[r] = (int)lo;
    }
}

void dist_reduce_scatter_mean(float *buf, size_t n) {
    if (g_size == 1) return;
    int *counts, *displs;
    shard_counts(n, &counts, &displs);
    float *mine = buf + displs[g_rank];
    /* MPI_IN_PLACE for reduce_scatter expects the full buffer in recvbuf: result lands at
     * the start of buf; move it to the shard's own offset. */
    MPI_CHECK(MPI_Reduce_scatter(MPI_IN_PLACE, buf, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    if (mine != buf) memmove(mine, buf, sizeof(float) * (size_t)counts[g_rank]);
    const float s = (float)(1.0 / g_size);
    const long c = counts[g_rank];
#pragma omp parallel for schedule(static) if (c > 65536)
    for (long i = 0; i < c; i++) mine[i] *= s;
    free(counts);
    free(displs);
}

size_t dist_reduce_scatter_bytes(size_t n, int ranks) {
    if (ranks <= 1) return 0;
    size_t shard = (n + (size_t)ranks - 1) / (size_t)ranks;
    return sizeof(float) * (n + shard * (ranks > 2 ? 2 : 1));
}

void dist_allgather(float *buf, size_t n) {
    if (g_size == 1) return;
    int *counts, *displs;
    shard_counts(n, &counts, &displs);
    MPI_CHECK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT,
                             MPI_COMM_WORLD));
    free(counts);
    free(displs);
}

/* the part [*a, *b) of the piece [off, off + count) that rank r owns (empty: *a >= *b) */
static void piece_part(size_t off, size_t count, size_t n, int r, size_t *a, size_t *b, size_t *lo) {
    size_t hi;
    dist_shard(n, r, g_size, lo, &hi);
    *a = off > *lo ? off : *lo;
    *b = off + count < hi ? off + count : hi;
}

#define PIECE_TAG 71

void dist_fetch_piece(const float *const *bufs, int k, size_t off, size_t count, size_t n, float *out) {
    CHECK(g_rank == 0 && off + count <= n && count <= (size_t)INT_MAX, "dist_fetch_piece: bad piece [%zu, +%zu) of %zu",
          off, count, n);
    int64_t req[3] = {k, (int64_t)off, (int64_t)count};
    if (g_size > 1) MPI_CHECK(MPI_Bcast(req, 3, MPI_INT64_T, 0, MPI_COMM_WORLD));
    for (int r = 0; r < g_size; r++) {
        size_t a, b, lo;
        piece_part(off, count, n, r, &a, &b, &lo);
        if (a >= b) continue;
        if (r == 0) memcpy(out + (a - off), bufs[k] + (a - lo), (b - a) * sizeof(float));
        else MPI_CHECK(MPI_Recv(out + (a - off), (int)(b - a), MPI_FLOAT, r, PIECE_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    }
}

void dist_serve_pieces(const float *const *bufs, int nbufs, size_t n) {
    CHECK(g_rank != 0, "dist_serve_pieces: rank 0 asks, it does not serve");
    for (;;) {
        int64_t req[3];
        MPI_CHECK(MPI_Bcast(req, 3, MPI_INT64_T, 0, MPI_COMM_WORLD));
        if (req[0] < 0) return;
        CHECK(req[0] < nbufs, "dist_serve_pieces: buffer %lld of %d asked for", (long long)req[0], nbufs);
        size_t a, b, lo;
        piece_part((size_t)req[1], (size_t)req[2], n, g_rank, &a, &b, &lo);
        if (a < b)
            MPI_CHECK(MPI_Send(bufs[req[0]] + (a - lo), (int)(b - a), MPI_FLOAT, 0, PIECE_TAG, MPI_COMM_WORLD));
    }
}

void dist_fetch_done(void) {
    if (g_size == 1) return;
    int64_t req[3] = {-1, 0, 0};
    MPI_CHECK(MPI_Bcast(req, 3, MPI_INT64_T, 0, MPI_COMM_WORLD));
}

int dist_same_on_all(const float *buf, size_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    const unsigned char *p = (const unsigned char *)buf;
    size_t bytes = n * sizeof(float);
    while (bytes) {
        uInt c = bytes > (1u << 30) ? (1u << 30) : (uInt)bytes;
        crc = crc32(crc, p, c);
        p += c;
        bytes -= c;
    }
    int64_t v[2] = {(int64_t)crc, -(int64_t)crc};
    allreduce(v, 2, MPI_INT64_T, 8, MPI_MAX); /* max of crc and max of -crc = -min */
    return v[0] == -v[1];
}
