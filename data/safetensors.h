/* safetensors files: reader and writer (no model knowledge).
 *
 * Format (https://github.com/huggingface/safetensors): 8 bytes little-endian u64 N, then N
 * bytes of UTF-8 JSON (possibly padded with spaces), then the data section. The JSON object
 * maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets
 * into the data section, C order, little-endian); the optional key "__metadata__" maps
 * strings to strings. A sharded set is an index file (model.safetensors.index.json:
 * {"metadata": {...}, "weight_map": {name: shard file name}}) beside its shards.
 *
 * The reader validates at open, like the reference implementation: header length within the
 * file (and at most 100 MB), JSON parsed with jansson (duplicate keys refused), known dtypes
 * (F32, BF16, F16; anything else is named and refused), byte spans equal to shape x dtype
 * size, spans inside the file (else: truncated), no overlaps and no holes in the data
 * section. Every message names the file and the tensor. Tensor data is read on demand
 * (pread), converted to float32.
 *
 * The writer streams: the header is written from the list of tensor specs, then each
 * tensor's float32 data in order (converted to the spec's dtype; bf16 is rounded to nearest
 * even). It writes exactly the path it is given: callers write to a temporary name and
 * rename once every file of a set is complete. */
#ifndef GRIFFIN_SAFETENSORS_H
#define GRIFFIN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef enum { ST_F32 = 0, ST_BF16 = 1, ST_F16 = 2 } StDtype;

const char *st_dtype_name(StDtype d);
/* 0 and *d for "F32" / "BF16" / "F16"; -1 otherwise */
int st_dtype_parse(const char *s, StDtype *d);
size_t st_dtype_size(StDtype d);

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;   /* byte span in its file's data section */
    int file;              /* index into StSet.files */
} StTensor;

typedef struct {
    char *path;
    int fd;
    uint64_t data_start;   /* 8 + header length */
    uint64_t data_len;     /* bytes after the header */
} StFile;

typedef struct {
    char *path;            /* what st_open was given (file or index) */
    int n_files;
    StFile *files;
    int count;
    StTensor *t;           /* sorted by name */
    int n_meta;
    char **meta_key, **meta_val;   /* __metadata__ of the first file */
} StSet;

/* Opens one .safetensors file or a sharded index (a path ending in ".json"). Returns 0, or
 * -1 with a one-line message naming the file (and tensor) in err; on failure s is empty. */
int st_open(StSet *s, const char *path, char *err, size_t errlen);
void st_close(StSet *s);
/* index of a tensor by name, or -1 */
int st_find(const StSet *s, const char *name);
/* value of a __metadata__ key, or NULL */
const char *st_meta(const StSet *s, const char *key);
/* Reads elements [first, first + count) of tensor i (C order) as float32 into dst.
 * Returns 0, or -1 with a message (I/O error, short read). */
int st_read_f32(const StSet *s, int i, uint64_t first, uint64_t count, float *dst, char *err, size_t errlen);

/* ---- writer ---- */

typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
} StSpec;

typedef struct StWriter StWriter;

/* Creates path (truncating it) and writes the header for the n tensors of specs, in this
 * order; meta: n_meta key/value pairs for __metadata__ (may be 0). NULL on failure (message
 * in err; nothing is left at path). */
StWriter *st_writer_open(const char *path, const StSpec *specs, int n, const char *const *meta_keys,
                         const char *const *meta_vals, int n_meta, char *err, size_t errlen);
/* Writes the next tensor's data, given as float32 numel values. Returns 0 or -1. */
int st_writer_put(StWriter *w, const float *data, char *err, size_t errlen);
/* After all n tensors: flushes, fsyncs and closes. Returns 0 or -1 (the file is removed). */
int st_writer_close(StWriter *w, char *err, size_t errlen);
/* Abandons the file (removes it). */
void st_writer_abort(StWriter *w);

/* Conversions (exposed for tests). */
uint16_t st_f32_to_bf16(float f);
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);

#endif
