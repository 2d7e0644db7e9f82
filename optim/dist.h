/* Ranks and collectives for data-parallel training (Open MPI). Only dist.c includes mpi.h.
 *
 * Started without mpirun the program is one rank (MPI singleton). Every collective is
 * deterministic for a given rank count: the same inputs give bitwise the same outputs on
 * every rank and every run. Buffers larger than INT_MAX elements are sent in chunks.
 *
 * ZeRO-1 helpers: dist_shard() splits a flat buffer of n floats into `size` contiguous
 * slices; dist_reduce_scatter_mean() leaves each rank the averaged gradient of its slice,
 * the optimizer updates that slice (adamw_update_range), dist_allgather() gives every rank
 * the whole updated parameter buffer. */
#ifndef GRIFFIN_DIST_H
#define GRIFFIN_DIST_H

#include <stddef.h>
#include <stdint.h>

/* MPI_Init_thread (FUNNELED) and install griffin_abort_hook = MPI_Abort, so a CHECK that
 * fails on one rank stops all of them. Safe to call twice. */
void dist_init(int *argc, char ***argv);
/* MPI_Finalize (no-op if not initialised or already finalised). */
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
/* MPI_Abort(COMM_WORLD, code) when initialised, else exit(code). */
void dist_abort(int code);
void dist_barrier(void);

/* buf[i] = (sum over ranks of buf[i]) * (1/size), in place. */
void dist_allreduce_mean(float *buf, size_t n);
/* buf[i] = sum over ranks, in place. */
void dist_allreduce_sum_f32(float *buf, size_t n);
void dist_allreduce_sum_f64(double *buf, size_t n);
void dist_allreduce_sum_i64(int64_t *buf, size_t n);
double dist_sum_double(double x);
int64_t dist_sum_i64(int64_t x);
/* max over ranks (e.g. "any rank saw a non-finite loss" with 0/1 flags) */
int dist_max_int(int x);
double dist_max_double(double x);

/* copy root's buffer to every rank */
void dist_broadcast_f32(float *buf, size_t n, int root);
void dist_broadcast_bytes(void *buf, size_t nbytes, int root);

/* ZeRO-1: rank r owns [*lo, *hi) of a buffer of n floats */
void dist_shard(size_t n, int rank, int size, size_t *lo, size_t *hi);
/* On return buf[lo..hi) of this rank's shard holds the mean over ranks; the rest of buf is
 * left unspecified. */
void dist_reduce_scatter_mean(float *buf, size_t n);
/* The temporary memory MPI takes inside dist_reduce_scatter_mean of n floats on `ranks` ranks:
 * Open MPI's ring reduce-scatter (what it runs for large buffers) allocates an accumulator of
 * all n floats and one (two beyond 2 ranks) receive buffers of a shard. 0 on one rank. */
size_t dist_reduce_scatter_bytes(size_t n, int ranks);
/* Every rank contributes buf[lo..hi) of its own shard; on return all of buf is filled. */
void dist_allgather(float *buf, size_t n);
/* Pieces of sharded buffers brought to rank 0 one at a time, so that a whole buffer is never
 * gathered (the checkpoint writer streams the ZeRO-1 moments). bufs[k] holds this rank's shard
 * [lo, hi) (dist_shard) of buffer k of n floats. Rank 0 calls dist_fetch_piece for floats
 * [off, off + count) of buffer k (count <= INT_MAX) into out, while every other rank is in
 * dist_serve_pieces, which sends its part of each piece asked for and returns when rank 0
 * calls dist_fetch_done. One broadcast per piece, one message per owner. */
void dist_fetch_piece(const float *const *bufs, int k, size_t off, size_t count, size_t n, float *out);
void dist_serve_pieces(const float *const *bufs, int nbufs, size_t n);
void dist_fetch_done(void);

/* 1 when the n floats are bitwise identical on every rank (a cheap consistency check). */
int dist_same_on_all(const float *buf, size_t n);

#endif
