/* train/checkpoint: bitwise round trip (params, Adam moments, step, RNG, cursors, config,
 * tokenizer); keep-last-K; weights-only files; shape/name mismatch messages; a flipped byte,
 * a stale crc32 and a truncated file are each detected and the previous checkpoint used;
 * a write that fails under RLIMIT_FSIZE leaves no temp file and the previous one intact;
 * moments streamed through a fetch callback in pieces; adapter checkpoints over a base (and a
 * chain of two) load bitwise, a changed, damaged, missing or moved base is refused in one line. */
#define _GNU_SOURCE
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/rng.h"
#include "data/h5guard.h"
#include "model/config.h"
#include "model/params.h"
#include "train/ckpt/checkpoint.h"
#include "tests/expect.h"

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

typedef struct {
    ParamTable pt;
    float *p, *m, *v;
    uint64_t rng[8], cursors[2 * 3];
    uint8_t tok[1000];
    const char *config;
} World;

/* the tiny preset, with vocab_size V if V > 0 */
static void world_init_vocab(World *w, uint64_t seed, int V) {
    GriffinConfig c;
    CHECK(config_preset("tiny", &c) == 0, "tiny preset");
    if (V > 0) c.vocab_size = V;
    param_table_build(&w->pt, &c);
    size_t n = w->pt.total;
    w->p = mallocCheck(n * 4);
    w->m = mallocCheck(n * 4);
    w->v = mallocCheck(n * 4);
    params_init(&w->pt, w->p, seed);
    Rng r;
    rng_seed(&r, seed, 99);
    for (size_t i = 0; i < n; i++) {
        w->p[i] += (float)rng_normal(&r); /* norms/biases init to zero: make every tensor distinct */
        w->m[i] = (float)rng_normal(&r);
        w->v[i] = (float)rng_uniform(&r);
    }
    for (int i = 0; i < 8; i++) w->rng[i] = rng_u64(&r);
    for (int i = 0; i < 6; i++) w->cursors[i] = rng_u64(&r);
    for (int i = 0; i < 1000; i++) w->tok[i] = (uint8_t)rng_below(&r, 256);
    w->config = "[model]\nwidth = 64\n";
}

static void world_init(World *w, uint64_t seed) { world_init_vocab(w, seed, 0); }

static void world_free(World *w) {
    free(w->p);
    free(w->m);
    free(w->v);
    param_table_free(&w->pt);
}

static CkptState state_of(const World *w, int64_t step) {
    CkptState s = {.step = step, .stage = step / 2, .tokens = step * 1000, .pt = &w->pt, .params = w->p,
                   .adam_m = w->m, .adam_v = w->v, .rng = w->rng, .n_rng = 8, .cursors = w->cursors,
                   .ranks = 2, .cursor_len = 3, .config = w->config, .tokenizer = w->tok, .tokenizer_len = 1000};
    return s;
}

static int save(const World *w, const char *dir, int64_t step, int keep) {
    char err[1024], path[4096];
    CkptState s = state_of(w, step);
    int rc = ckpt_save(dir, &s, keep, path, sizeof path, err, sizeof err);
    if (rc) fprintf(stderr, "(save error: %s)\n", err);
    return rc;
}

/* loads and compares with w bitwise */
static int load_matches(const World *w, const char *path, int64_t step) {
    size_t n = w->pt.total;
    float *p = mallocCheck(n * 4), *m = mallocCheck(n * 4), *v = mallocCheck(n * 4);
    CkptLoaded l;
    char err[1024];
    int rc = ckpt_load(path, &w->pt, p, m, v, &l, err, sizeof err);
    int ok = rc == CKPT_OK;
    if (!ok) fprintf(stderr, "(load error: %s)\n", err);
    if (ok) {
        ok = !memcmp(p, w->p, n * 4) && !memcmp(m, w->m, n * 4) && !memcmp(v, w->v, n * 4) && l.step == step &&
             l.stage == step / 2 && l.tokens == step * 1000 && l.n_rng == 8 && !memcmp(l.rng, w->rng, sizeof w->rng) &&
             l.ranks == 2 && l.cursor_len == 3 && !memcmp(l.cursors, w->cursors, sizeof w->cursors) &&
             !strcmp(l.config, w->config) && l.tokenizer_len == 1000 && !memcmp(l.tokenizer, w->tok, 1000) &&
             l.has_moments;
        ckpt_loaded_free(&l);
    }
    free(p);
    free(m);
    free(v);
    return ok;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopenCheck(path, "rb");
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = mallocCheck(*len);
    CHECK(fread(b, 1, *len, f) == *len, "read %s", path);
    fclose(f);
    return b;
}

static void write_file(const char *path, const char *b, size_t len) {
    FILE *f = fopenCheck(path, "wb");
    CHECK(fwrite(b, 1, len, f) == len, "write %s", path);
    fclose(f);
}

static void test_round_trip_and_keep(const char *root) {
    World w;
    world_init(&w, 1);
    char dir[4096], path[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/run/a", root); /* created on demand */
    for (int64_t s = 1; s <= 5; s++) EXPECT(save(&w, dir, s * 10, 3) == CKPT_OK, "save step %lld", (long long)(s * 10));
    int64_t *steps;
    int n = ckpt_list(dir, &steps);
    EXPECT(n == 3 && steps[0] == 50 && steps[1] == 40 && steps[2] == 30, "keep-last-3: %d left", n);
    free(steps);
    snprintf(path, sizeof path, "%s/ckpt-50.h5", dir);
    EXPECT(load_matches(&w, path, 50), "round trip is not bitwise");

    /* pruning after a resume from an older step never deletes higher-numbered files */
    char dir3[4096];
    snprintf(dir3, sizeof dir3, "%s/run/prune", root);
    for (int64_t s3 = 10; s3 <= 30; s3 += 10) save(&w, dir3, s3, 2);
    save(&w, dir3, 15, 2);
    n = ckpt_list(dir3, &steps);
    EXPECT(n == 3 && steps[0] == 30 && steps[1] == 20 && steps[2] == 15, "prune after resume: %d left", n);
    free(steps);
    snprintf(path, sizeof path, "%s/ckpt-50.h5.tmp", dir);
    EXPECT(!exists(path), "temporary file left behind");

    /* weights only */
    float *p = callocCheck(w.pt.total, 4);
    snprintf(path, sizeof path, "%s/ckpt-50.h5", dir);
    EXPECT(ckpt_load_weights(path, &w.pt, p, err, sizeof err) == CKPT_OK && !memcmp(p, w.p, w.pt.total * 4), "weights-only load: %s", err);
    /* metadata only */
    CkptLoaded l;
    EXPECT(ckpt_load(path, NULL, NULL, NULL, NULL, &l, err, sizeof err) == CKPT_OK && l.step == 50 && !strcmp(l.config, w.config),
           "metadata-only load: %s", err);
    ckpt_loaded_free(&l);

    /* a weights-only checkpoint cannot resume the optimizer */
    char dir2[4096];
    snprintf(dir2, sizeof dir2, "%s/run/weights", root);
    CkptState s = state_of(&w, 7);
    s.adam_m = s.adam_v = NULL;
    s.tokenizer = NULL;
    s.tokenizer_len = 0;
    s.rng = NULL;
    s.n_rng = 0;
    s.config = NULL;
    EXPECT(ckpt_save(dir2, &s, 1, path, sizeof path, err, sizeof err) == CKPT_OK, "weights-only save: %s", err);
    float *m = callocCheck(w.pt.total, 4), *v = callocCheck(w.pt.total, 4);
    int rc = ckpt_load(path, &w.pt, p, m, v, &l, err, sizeof err);
    EXPECT(rc == CKPT_ERR_MISMATCH && strstr(err, "weights-only"), "moments from a weights-only file: rc %d %s", rc, err);
    EXPECT(ckpt_load(path, &w.pt, p, NULL, NULL, &l, err, sizeof err) == CKPT_OK && l.n_rng == 0 && l.tokenizer_len == 0 &&
               l.config[0] == 0 && !l.has_moments, "weights-only file loads its params: %s", err);
    ckpt_loaded_free(&l);

    /* a different model: the message names the tensor and both shapes */
    GriffinConfig c2;
    config_preset("tiny", &c2);
    c2.mlp_width = 256;
    config_finalize(&c2);
    ParamTable pt2;
    param_table_build(&pt2, &c2);
    float *p2 = callocCheck(pt2.total, 4);
    snprintf(path, sizeof path, "%s/ckpt-50.h5", dir);
    rc = ckpt_load_weights(path, &pt2, p2, err, sizeof err);
    EXPECT(rc == CKPT_ERR_MISMATCH && strstr(err, "params/blocks.0.mlp_block.ffw_up.w") && strstr(err, "[2,64,192]") &&
               strstr(err, "[2,64,256]"), "shape mismatch message: %s", err);
    printf("shape mismatch -> %s\n", err);
    param_table_free(&pt2);
    free(p2);
    c2.mlp_width = 192;
    c2.family = FAMILY_HAWK;
    config_finalize(&c2);
    param_table_build(&pt2, &c2);
    p2 = callocCheck(pt2.total, 4);
    rc = ckpt_load_weights(path, &pt2, p2, err, sizeof err);
    EXPECT(rc == CKPT_ERR_MISMATCH && strstr(err, "blocks.2.recurrent_block"), "missing tensor message: %s", err);
    printf("name mismatch -> %s\n", err);
    param_table_free(&pt2);
    free(p2);
    free(p);
    free(m);
    free(v);

    /* describe */
    FILE *devnull = fopen("/dev/null", "w");
    EXPECT(ckpt_describe(path, devnull, err, sizeof err) == CKPT_OK, "describe: %s", err);
    fclose(devnull);
    world_free(&w);
}

static void test_damage(const char *root) {
    World w;
    world_init(&w, 2);
    char dir[4096], path[4200], got[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/damage", root);
    for (int64_t s = 1; s <= 4; s++) EXPECT(save(&w, dir, s, 10) == CKPT_OK, "save %lld", (long long)s);

    /* 1. flip one byte inside the embedding's data of ckpt-4 (found by its bit pattern) */
    snprintf(path, sizeof path, "%s/ckpt-4.h5", dir);
    size_t len;
    char *b = read_file(path, &len);
    const TensorInfo *emb = &w.pt.t[w.pt.embed];
    const char *needle = (const char *)(w.p + emb->offset + emb->numel / 2);
    char *hit = memmem(b, len, needle, 32);
    EXPECT(hit != NULL, "embedding bytes not found in the file");
    if (hit) hit[5] ^= 0x10;
    write_file(path, b, len);
    free(b);
    char *logbuf = NULL;
    size_t logsize = 0;
    FILE *log = open_memstream(&logbuf, &logsize);
    int rc = ckpt_latest(dir, got, sizeof got, log);
    fclose(log);
    EXPECT(rc == CKPT_OK && strstr(got, "ckpt-3.h5"), "flipped byte: latest = %s", got);
    EXPECT(logbuf && strstr(logbuf, "ckpt-4.h5") && !strchr(logbuf, '\n')[1], "one-line report naming the file: %s", logbuf);
    printf("flipped byte -> %s", logbuf);
    free(logbuf);
    EXPECT(ckpt_load(path, &w.pt, w.m, NULL, NULL, NULL, err, sizeof err) == CKPT_ERR_DAMAGED, "direct load of the damaged file");

    /* 2. ckpt-3: rewrite a value through HDF5 (Fletcher32 recomputed, our crc32 stale) */
    snprintf(path, sizeof path, "%s/ckpt-3.h5", dir);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "adam_v/final_norm.scale", H5P_DEFAULT);
    size_t nf = w.pt.t[w.pt.final_norm].numel;
    float *tmp = mallocCheck(nf * 4);
    memcpy(tmp, w.v + w.pt.t[w.pt.final_norm].offset, nf * 4);
    tmp[1] += 1.0f;
    EXPECT(f >= 0 && d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) >= 0, "rewrite through HDF5");
    H5Dclose(d);
    H5Fclose(f);
    free(tmp);
    EXPECT(ckpt_verify(path, err, sizeof err) == CKPT_ERR_DAMAGED && strstr(err, "whole-file CRC-32 mismatch"),
           "a rewrite through HDF5 is not caught by the whole-file checksum: %s", err);
    printf("rewritten through HDF5 -> %s\n", err);
    /* the same file with a fresh whole-file checksum: the dataset's own crc32 still catches it */
    EXPECT(h5guard_seal(path, err, sizeof err) == 0, "reseal: %s", err);
    EXPECT(ckpt_verify(path, err, sizeof err) == CKPT_ERR_DAMAGED && strstr(err, "crc32 mismatch") &&
               strstr(err, "adam_v/final_norm.scale"), "stale crc32: %s", err);
    printf("stale crc32 -> %s\n", err);

    /* 3. truncate ckpt-2 to half its size */
    snprintf(path, sizeof path, "%s/ckpt-2.h5", dir);
    b = read_file(path, &len);
    write_file(path, b, len / 2);
    free(b);
    EXPECT(ckpt_verify(path, err, sizeof err) == CKPT_ERR_DAMAGED, "truncated file passes verification");
    printf("truncated -> %s\n", err);

    log = fopen("/dev/null", "w");
    rc = ckpt_latest(dir, got, sizeof got, log);
    fclose(log);
    EXPECT(rc == CKPT_OK && strstr(got, "ckpt-1.h5"), "after three damaged: latest = %s", got);
    EXPECT(load_matches(&w, got, 1), "ckpt-1 intact");

    /* garbage with a checkpoint name, and no checkpoints at all */
    snprintf(path, sizeof path, "%s/ckpt-9.h5", dir);
    write_file(path, "not hdf5", 8);
    snprintf(path, sizeof path, "%s/ckpt-1.h5", dir);
    unlink(path);
    log = fopen("/dev/null", "w");
    EXPECT(ckpt_latest(dir, got, sizeof got, log) == CKPT_NONE, "no valid checkpoint left");
    snprintf(path, sizeof path, "%s/nowhere", dir);
    EXPECT(ckpt_latest(path, got, sizeof got, log) == CKPT_NONE, "missing dir");
    fclose(log);
    world_free(&w);
}

static void test_write_failure(const char *root) {
    World w;
    world_init(&w, 3);
    char dir[4096], path[4200], got[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/full", root);
    EXPECT(save(&w, dir, 1, 3) == CKPT_OK, "first save");
    snprintf(path, sizeof path, "%s/ckpt-1.h5", dir);
    struct stat st;
    stat(path, &st);
    /* a stale temp file of a killed run is cleaned up by the next save */
    snprintf(path, sizeof path, "%s/ckpt-7.h5.tmp", dir);
    write_file(path, "partial", 7);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size / 2;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit: %s", strerror(errno));
    CkptState s = state_of(&w, 2);
    w.p[0] += 1.0f; /* the failed save must not matter */
    int rc = ckpt_save(dir, &s, 1, path, sizeof path, err, sizeof err);
    w.p[0] -= 1.0f;
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0, "restore rlimit");
    EXPECT(rc == CKPT_ERR_IO && err[0], "write beyond RLIMIT_FSIZE: rc %d", rc);
    printf("file-size limit -> %s\n", err);
    snprintf(path, sizeof path, "%s/ckpt-2.h5.tmp", dir);
    EXPECT(!exists(path), "temporary file left after a failed write");
    snprintf(path, sizeof path, "%s/ckpt-2.h5", dir);
    EXPECT(!exists(path), "a failed write produced a checkpoint");
    snprintf(path, sizeof path, "%s/ckpt-7.h5.tmp", dir);
    EXPECT(!exists(path), "stale temp file not removed");
    FILE *log = fopen("/dev/null", "w");
    EXPECT(ckpt_latest(dir, got, sizeof got, log) == CKPT_OK && strstr(got, "ckpt-1.h5"), "previous checkpoint lost");
    fclose(log);
    EXPECT(load_matches(&w, got, 1), "previous checkpoint damaged");

    /* an unwritable place: a directory below a regular file */
    snprintf(path, sizeof path, "%s/ckpt-1.h5/sub", dir);
    rc = ckpt_save(path, &s, 1, NULL, 0, err, sizeof err);
    EXPECT(rc == CKPT_ERR_IO && strstr(err, "directory"), "unwritable dir: rc %d %s", rc, err);
    printf("unwritable dir -> %s\n", err);
    world_free(&w);
}

/* the moments through CkptState.fetch, as the ZeRO-1 writer gives them */
typedef struct {
    const World *w;
    size_t next[2], largest;
    int calls, out_of_order, fail_at;
} Fetcher;

static int fetch_from(const void *ctx, int which, size_t off, size_t n, float *out) {
    Fetcher *f = (Fetcher *)(uintptr_t)ctx; /* the test's own mutable state */
    if (f->fail_at && ++f->calls == f->fail_at) return -1;
    f->out_of_order += off < f->next[which] || (which == 1 && f->next[0] < f->w->pt.total);
    f->next[which] = off + n;
    f->largest = n > f->largest ? n : f->largest;
    memcpy(out, (which ? f->w->v : f->w->m) + off, n * sizeof(float));
    return 0;
}

/* a model with an embedding of 70000 x 64 floats (17.9 MB, over CKPT_PIECE_BYTES): the moments
 * fetched in pieces give a file that loads bitwise, of the same size as one written from
 * buffers, within ckpt_file_bound; a failing fetch leaves nothing behind */
static void test_streamed(const char *root) {
    World w;
    world_init_vocab(&w, 3, 70000);
    char dir[4096], a[4200], b[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/streamed", root);
    CkptState s = state_of(&w, 1);
    EXPECT(ckpt_save(dir, &s, 2, a, sizeof a, err, sizeof err) == CKPT_OK, "save from buffers: %s", err);
    Fetcher f = {.w = &w};
    s = state_of(&w, 2);
    s.adam_m = s.adam_v = NULL, s.fetch = fetch_from, s.fetch_ctx = &f;
    EXPECT(ckpt_save(dir, &s, 2, b, sizeof b, err, sizeof err) == CKPT_OK, "streamed save: %s", err);
    EXPECT(load_matches(&w, b, 2), "the streamed checkpoint does not load bitwise");
    EXPECT(f.largest == CKPT_PIECE_BYTES / 4 && !f.out_of_order && f.next[0] == w.pt.total && f.next[1] == w.pt.total,
           "pieces: largest %zu floats, %d out of order, %zu/%zu of m/v", f.largest, f.out_of_order, f.next[0], f.next[1]);
    struct stat sa, sb;
    stat(a, &sa);
    stat(b, &sb);
    uint64_t bound = ckpt_file_bound(&s);
    EXPECT(sa.st_size == sb.st_size, "streamed file %lld bytes, from buffers %lld", (long long)sb.st_size,
           (long long)sa.st_size);
    EXPECT((uint64_t)sb.st_size <= bound && bound < 1.05 * (double)sb.st_size, "bound %llu for a file of %lld bytes",
           (unsigned long long)bound, (long long)sb.st_size);
    printf("streamed: %lld bytes, bound %llu (+%.2f%%), largest piece %zu floats\n", (long long)sb.st_size,
           (unsigned long long)bound, 100.0 * ((double)bound / (double)sb.st_size - 1), f.largest);
    Fetcher bad = {.w = &w, .fail_at = 2};
    s = state_of(&w, 3);
    s.adam_m = s.adam_v = NULL, s.fetch = fetch_from, s.fetch_ctx = &bad;
    EXPECT(ckpt_save(dir, &s, 2, b, sizeof b, err, sizeof err) == CKPT_ERR_IO && strstr(err, "cannot fetch"),
           "a failing fetch: %s", err);
    snprintf(b, sizeof b, "%s/ckpt-3.h5.tmp", dir);
    EXPECT(!exists(b), "a failed streamed save left its temporary file");
    printf("failing fetch -> %s\n", err);
    world_free(&w);
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) ? -1 : (long)st.st_size;
}

/* saves w with the tensors marked in omit left to base; 0 or the error code */
static int save_adapter(const World *w, const char *dir, int64_t step, const char *base, const uint8_t *omit,
                        char *path, size_t pathlen) {
    char err[1024];
    CkptState s = state_of(w, step);
    CHECK(!h5guard_identity(base, &s.base_crc, &s.base_size, err, sizeof err), "identity of %s: %s", base, err);
    s.base = base, s.omit = omit;
    int rc = ckpt_save(dir, &s, 1, path, pathlen, err, sizeof err);
    if (rc) fprintf(stderr, "(save error: %s)\n", err);
    return rc;
}

/* CKPT_ERR_BASE loading path with the base read from `base`, the message naming it and `what` */
static void expect_base_refused(const World *w, const char *path, const char *base, const char *what) {
    float *p = mallocCheck(w->pt.total * 4);
    char err[1024];
    ckpt_set_base(base);
    int rc = ckpt_load_weights(path, &w->pt, p, err, sizeof err);
    ckpt_set_base(NULL);
    EXPECT(rc == CKPT_ERR_BASE && strstr(err, base) && strstr(err, what) && !strchr(err, '\n'),
           "adapter checkpoint over %s: rc %d, '%s' (wanted one line naming it and '%s')", base, rc, err, what);
    free(p);
}

/* Adapter checkpoints: the tensors omitted are read from the base (checked by size and CRC-32
 * first), bitwise; a chain of two; a changed, damaged or missing base refused in one line
 * naming it; --base (ckpt_set_base) reads a moved base. */
static void test_adapter(const char *root) {
    World b, a, c;
    world_init(&b, 11);
    world_init(&a, 12);
    world_init(&c, 13);
    int n = b.pt.count;
    uint8_t *omit_a = callocCheck((size_t)n, 1), *omit_c = callocCheck((size_t)n, 1);
    for (int i = 0; i < n; i++) { /* a keeps b's first half; c keeps a's first three quarters */
        const TensorInfo *t = &b.pt.t[i];
        if ((omit_a[i] = i < n / 2)) memcpy(a.p + t->offset, b.p + t->offset, t->numel * 4);
        if ((omit_c[i] = i < 3 * n / 4)) memcpy(c.p + t->offset, a.p + t->offset, t->numel * 4);
    }
    char dir[4096], base[4200], apath[4200], cpath[4200], full[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/adapter/base", root);
    EXPECT(save(&b, dir, 1, 1) == CKPT_OK, "save the base");
    snprintf(base, sizeof base, "%s/ckpt-1.h5", dir);
    snprintf(dir, sizeof dir, "%s/adapter/full", root);
    EXPECT(save(&a, dir, 2, 1) == CKPT_OK, "save a in full");
    snprintf(full, sizeof full, "%s/ckpt-2.h5", dir);
    snprintf(dir, sizeof dir, "%s/adapter/a", root);
    EXPECT(save_adapter(&a, dir, 2, base, omit_a, apath, sizeof apath) == CKPT_OK, "save a over its base");
    snprintf(dir, sizeof dir, "%s/adapter/c", root);
    EXPECT(save_adapter(&c, dir, 3, apath, omit_c, cpath, sizeof cpath) == CKPT_OK, "save c over a");
    printf("adapter checkpoint: %ld bytes, the full one %ld\n", file_size(apath), file_size(full));
    EXPECT(file_size(apath) < file_size(full), "the adapter checkpoint is not smaller than the full one");

    EXPECT(load_matches(&a, apath, 2), "a loaded from the adapter checkpoint + base differs");
    EXPECT(load_matches(&c, cpath, 3), "c loaded through a chain of two differs");
    float *p = mallocCheck(a.pt.total * 4);
    CkptLoaded l;
    EXPECT(ckpt_load(apath, &a.pt, p, NULL, NULL, &l, err, sizeof err) == CKPT_OK && l.base && !strcmp(l.base, base) &&
           l.from_base && !memcmp(l.from_base, omit_a, (size_t)n), "the tensors read from the base: %s", err);
    ckpt_loaded_free(&l);
    EXPECT(ckpt_verify(apath, err, sizeof err) == CKPT_OK, "ckpt_verify of an adapter checkpoint: %s", err);

    /* another model as the base, a flipped byte, a missing file */
    expect_base_refused(&a, apath, full, "not the file it was trained from");
    char flipped[4200], moved[4200];
    size_t len;
    char *bytes = read_file(base, &len);
    snprintf(moved, sizeof moved, "%s/adapter/moved.h5", root);
    write_file(moved, bytes, len);
    bytes[len / 2] ^= 1;
    snprintf(flipped, sizeof flipped, "%s/adapter/flipped.h5", root);
    write_file(flipped, bytes, len);
    free(bytes);
    expect_base_refused(&a, apath, flipped, "CRC-32");
    expect_base_refused(&a, apath, "/nonexistent/base.h5", "cannot open");
    rename(base, moved);
    EXPECT(ckpt_load_weights(apath, &a.pt, p, err, sizeof err) == CKPT_ERR_BASE && strstr(err, base),
           "a moved base: %s", err);
    ckpt_set_base(moved);
    EXPECT(ckpt_load_weights(apath, &a.pt, p, err, sizeof err) == CKPT_OK && !memcmp(p, a.p, a.pt.total * 4),
           "the moved base given with ckpt_set_base: %s", err);
    ckpt_set_base(NULL);
    free(p);
    free(omit_a);
    free(omit_c);
    world_free(&a);
    world_free(&b);
    world_free(&c);
}

int main(void) {
    char root[] = "/tmp/griffin_ckpt_XXXXXX";
    CHECK(mkdtemp(root), "mkdtemp: %s", strerror(errno));
    test_round_trip_and_keep(root);
    test_damage(root);
    test_write_failure(root);
    test_streamed(root);
    test_adapter(root);
    if (!failures) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd)) fprintf(stderr, "could not remove %s\n", root);
    }
    if (failures) {
        fprintf(stderr, "test_checkpoint: %d failure(s) (files kept in %s)\n", failures, root);
        return 1;
    }
    printf("test_checkpoint: all passed\n");
    return 0;
}
