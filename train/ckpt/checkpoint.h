/* Training checkpoints in HDF5 (serial), self-describing and verifiable.
 *
 * File layout (format "griffin-checkpoint", version 1; version 2 is an adapter checkpoint):
 *   root attributes   format, version, step
 *   params/<name>     float32, the tensor's shape (names and shapes of the parameter table)
 *   adam_m/<name>     float32, Adam first moments   (absent in weights-only checkpoints; only
 *   adam_v/<name>     float32, Adam second moments   the trainable tensors' when some are frozen)
 *   step, stage, tokens   int64 [1]: optimizer steps done, current stage, tokens trained on
 *   rng               uint64 [n]: RNG states, opaque
 *   data_cursor       uint64 [ranks, n]: every rank's data-loader cursor, opaque
 *   config            uint8 [len]: the resolved config INI text (deflate)
 *   tokenizer         uint8 [len]: the tokenizer model bytes, may be empty (deflate)
 * An adapter checkpoint (version 2; full checkpoints stay version 1) adds
 *   base_path         uint8 [len]: the base checkpoint's path, as configured (train.init or
 *                     rlhf.policy) or as given with ckpt_set_base
 *   base_identity     uint64 [2]: the base's whole-file CRC-32 and its size in bytes
 *                     (h5guard_identity: the CRC-32 its 512-byte header records, computed over
 *                     every byte for an unguarded legacy file)
 * and its params/ holds only some of the model's tensors (the trainable ones, and any others
 * that are not bitwise the base's); the rest are read from the base, after its size and CRC-32
 * are checked against base_identity, the base's own checks then applying. A base may itself be
 * an adapter checkpoint: its missing tensors come from its base in turn (CKPT_MAX_CHAIN deep).
 * Every dataset is chunked with HDF5's Fletcher32 filter and carries an attribute `crc32`
 * (zlib CRC-32 of its bytes) that loading verifies. The first 512 bytes (an HDF5 user block)
 * hold a CRC-32 of the whole file, checked before HDF5 opens it (data/h5guard.h); files
 * written before it existed are still read, with the per-dataset checks only.
 *
 * Saving streams: nothing the size of the model is copied. It bounds the file's size
 * (ckpt_file_bound) and refuses, before writing, when the file-size limit or the disk's free
 * space is below it; HDF5 creates <dir>/ckpt-<step>.h5.tmp, whose blocks are reserved at once
 * (fallocate), and writes it tensor by tensor, each straight from the caller's buffer or, for
 * moments given through `fetch`, in pieces of at most CKPT_PIECE_BYTES; then the unused
 * reservation is released, the whole-file CRC-32 sealed in, the file fsynced, renamed to
 * ckpt-<step>.h5, the directory fsynced, and all but the newest `keep` checkpoints numbered
 * up to this step deleted (higher-numbered ones, left by an abandoned run, are not touched).
 * A failure (disk full, file-size limit, unwritable dir) removes the temporary file, leaves
 * earlier checkpoints untouched and returns an error code with a one-line message: the
 * caller decides what to do. Functions never print HDF5's own error stack. */
#ifndef GRIFFIN_CHECKPOINT_H
#define GRIFFIN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/params.h"

#define CKPT_FORMAT "griffin-checkpoint"
#define CKPT_VERSION 2
#define CKPT_MAX_CHAIN 8 /* adapter checkpoints over adapter checkpoints */
/* the largest piece of fetched moments the writer holds (more only for a tensor's row longer) */
#define CKPT_PIECE_BYTES (16u << 20)

enum {
    CKPT_OK = 0,
    CKPT_NONE = 1,           /* ckpt_latest: no valid checkpoint in the directory */
    CKPT_ERR_IO = -1,        /* cannot create / write / open */
    CKPT_ERR_DAMAGED = -2,   /* unreadable, truncated, checksum mismatch, not a checkpoint */
    CKPT_ERR_MISMATCH = -3,  /* valid file that does not fit the model / request */
    CKPT_ERR_BASE = -4,      /* an adapter checkpoint whose base is missing, damaged or another file */
};

/* What a checkpoint stores. Pointers are borrowed; optional parts may be NULL / 0. */
typedef struct {
    int64_t step, stage, tokens;
    const ParamTable *pt;
    const float *params;
    const float *adam_m, *adam_v;     /* both NULL (and no fetch): weights-only checkpoint */
    /* Moments that are not in one buffer here (ZeRO-1 shards on other ranks), instead of
     * adam_m/adam_v: fills out[0, n) with floats [off, off + n) of the packed moments laid out
     * by mt (which: 0 = m, 1 = v), n <= max(CKPT_PIECE_BYTES / 4, a tensor's row); called in
     * increasing order, m before v. 0, or nonzero when it cannot. */
    int (*fetch)(const void *ctx, int which, size_t off, size_t n, float *out);
    const void *fetch_ctx;
    const ParamTable *mt;             /* the moments' layout (a trainable set's table), NULL = pt */
    const uint64_t *rng;
    size_t n_rng;
    const uint64_t *cursors;          /* [ranks][cursor_len], row-major */
    int ranks;
    size_t cursor_len;
    const char *config;               /* NUL-terminated INI text, or NULL */
    const void *tokenizer;
    size_t tokenizer_len;
    /* an adapter checkpoint: tensors i with omit[i] set are not stored, the base holds them;
     * base == NULL (or no tensor omitted): every tensor is stored (version 1) */
    const char *base;
    const uint8_t *omit;              /* [pt->count] */
    uint32_t base_crc;
    uint64_t base_size;
} CkptState;

/* What loading returns besides the tensors (heap memory: free with ckpt_loaded_free). */
typedef struct {
    int64_t step, stage, tokens;
    int has_moments;
    uint64_t *rng;
    size_t n_rng;
    uint64_t *cursors;                /* [ranks][cursor_len] */
    int ranks;
    size_t cursor_len;
    char *config;                     /* NUL-terminated ("" if none) */
    uint8_t *tokenizer;
    size_t tokenizer_len;
    char *base;                       /* an adapter checkpoint's base path as recorded, else NULL */
    uint32_t base_crc;
    uint64_t base_size;
    uint8_t *from_base;               /* loaded with a table from an adapter checkpoint: [pt->count],
                                         1 = the tensor was read from the base; else NULL */
} CkptLoaded;

/* Writes <dir>/ckpt-<step>.h5 (creating dir if needed) and keeps the newest `keep` (>= 1).
 * On success copies the final path to path_out (if not NULL). Returns CKPT_OK or
 * CKPT_ERR_IO with the message in err. */
int ckpt_save(const char *dir, const CkptState *s, int keep, char *path_out, size_t path_len,
              char *err, size_t errlen);

/* An upper bound of the size of the file ckpt_save writes for s (what it reserves). */
uint64_t ckpt_file_bound(const CkptState *s);
/* The memory ckpt_save holds besides the caller's buffers, for parameters laid out by pt and
 * moments by mt: two chunks' worth in HDF5's filter pipeline (chunks are about 1 MB, or one
 * row of the leading dimension when a row is larger), the seal's read block, and with
 * `fetching` the piece buffer (its pages touched: up to CKPT_PIECE_BYTES, or mt's largest
 * tensor if smaller, or one row if a row is larger). */
size_t ckpt_writer_bytes(const ParamTable *pt, const ParamTable *mt, int fetching);

/* Loads path. With pt: names and shapes are validated against the table (a clear message
 * naming the tensor otherwise: CKPT_ERR_MISMATCH) and params are read into `params`; adam_m
 * and adam_v too unless NULL (asking for moments of a weights-only file is a mismatch).
 * pt == NULL reads only the metadata (step, rng, cursors, config, tokenizer). `out` may be
 * NULL. Every dataset read is checked against its crc32. An adapter checkpoint's missing
 * tensors are read from its base (CKPT_ERR_BASE, one line naming both files, when the base is
 * missing, damaged or not the recorded file). */
int ckpt_load(const char *path, const ParamTable *pt, float *params, float *adam_m, float *adam_v,
              CkptLoaded *out, char *err, size_t errlen);
/* The same with the moments laid out by mt, the table of a trainable set (optim/trainable.h):
 * adam_m/, adam_v/ must hold mt's tensors; those of pt's other tensors (frozen now) are
 * skipped. mt == pt is ckpt_load. */
int ckpt_load_set(const char *path, const ParamTable *pt, float *params, const ParamTable *mt, float *adam_m,
                  float *adam_v, CkptLoaded *out, char *err, size_t errlen);
/* Where the base of the adapter checkpoints loaded from now on is read from, instead of the
 * path each records (`--base PATH`: the base moved); NULL or "" = the recorded path. It applies
 * to the checkpoint loaded, not to the bases of its base. The identity check still applies. */
void ckpt_set_base(const char *path);
/* params only, for `init = CKPT` */
int ckpt_load_weights(const char *path, const ParamTable *pt, float *params, char *err, size_t errlen);
void ckpt_loaded_free(CkptLoaded *l);
/* a message of these functions without its leading "path: ", for a caller that names the file */
const char *ckpt_why(const char *err, const char *path);

/* Reads every dataset of the file and checks the checksums (no parameter table needed). */
int ckpt_verify(const char *path, char *err, size_t errlen);

/* What `griffin inspect --verify` checks: ckpt_verify, then the stored config parsed, every
 * tensor of params/ (and adam_m/, adam_v/ if present) against the shapes of that config's
 * model, and every value finite (and Adam second moments >= 0). CKPT_OK with a one-line
 * summary in summary, or an error code with one line naming the dataset in err. */
int ckpt_verify_full(const char *path, char *summary, size_t summary_len, char *err, size_t errlen);

/* The newest checkpoint in dir that verifies. Damaged ones are reported on `log` (if not
 * NULL) in one line each, naming the file, and the previous one is tried.
 * Returns CKPT_OK with its path, or CKPT_NONE when there is none (no dir, none valid). */
int ckpt_latest(const char *dir, char *path_out, size_t path_len, FILE *log);

/* Steps of the checkpoints ckpt-<step>.h5 in dir, newest first (malloc'd, caller frees);
 * returns the count (0 if none or no dir). */
int ckpt_list(const char *dir, int64_t **steps);

/* Human description for `griffin inspect`: format, step, stage, tokens, tensors with shapes,
 * moments, RNG and cursor sizes, config and tokenizer sizes, checksum status. */
int ckpt_describe(const char *path, FILE *f, char *err, size_t errlen);

#endif
