/* Weight storage for inference: each big matrix of a model may be held in fp32 (the
 * parameters themselves), bf16 or int8, and every reader goes through one "weight view".
 *
 * Formats (conversion once, from the fp32 parameters; the master weights are untouched):
 * - bf16: round to nearest even (bf16_from_float); a bf16 weight is the top half of an fp32.
 * - int8: symmetric per output row, q = rint(w / s) in [-127, 127] with the fp32 scale
 *   s = max_k |w[row, k]| / 127 (s = 0 for a zero row); the weight is (float)q · s.
 * Which tensors: the linears of both temporal blocks, ffw_up, ffw_down and the tied
 * embedding table. The table is quantised per vocabulary row, which is per output channel
 * of the unembedding and exactly the row the embedding lookup reads, so the lookup and the
 * unembedding share one copy in one scheme. Norms, biases, conv taps, a_param and the
 * RG-LRU's block-diagonal gates stay fp32 (< 5% of the bytes of a decode step at any size).
 * Stored layout: rows are output channels, [parts][rows][cols]. ffw_up ([2, D, F] in, out)
 * is stored transposed as 2 parts of [F, D], so every narrow product is x · wᵀ.
 *
 * Readers:
 * - decode (model/gemv*.c): gemv_view reads the narrow weights directly;
 * - the parallel forward (prefill, evaluation): weight_f32 gives the fp32 matrix in the
 *   parameter's own layout, a pointer into the parameters or one matrix dequantised into a
 *   scratch buffer, for the existing GEMM (one matrix at a time: one scratch). */
#ifndef GRIFFIN_WEIGHTS_H
#define GRIFFIN_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

typedef enum { WEIGHTS_FP32 = 0, WEIGHTS_BF16 = 1, WEIGHTS_INT8 = 2 } WeightFormat;
#define WEIGHT_FORMAT_CHOICES "fp32, bf16, int8"

const char *weight_format_name(WeightFormat f);
/* 0 and *f set, or -1 for a name that is not one of WEIGHT_FORMAT_CHOICES */
int weight_format_parse(const char *name, WeightFormat *f);
/* bytes per stored weight (fp32 4, bf16 2, int8 1) */
int weight_format_bytes(WeightFormat f);

/* One weight tensor as a reader sees it: parts matrices of [rows, cols], rows = outputs. */
typedef struct {
    WeightFormat fmt;
    int parts, rows, cols;
    int io;                /* the parameter is [parts][cols][rows] (ffw_up's in, out): the fp32
                            * view reads it so; a narrow copy is [parts][rows][cols] all the same */
    const float *f32;      /* fp32: the parameter itself */
    const uint16_t *bf16;  /* bf16: [parts][rows][cols] */
    const int8_t *i8;      /* int8: [parts][rows][cols] */
    const float *scale;    /* int8: [parts][rows] */
} WeightView;

/* the fp32 view of parameter tensor t of params */
WeightView weight_view_fp32(const ParamTable *pt, const float *params, int t);

/* The fp32 tensor in the parameter's layout: w->f32, or dequantised into scratch
 * (parts·rows·cols floats). */
const float *weight_f32(const WeightView *w, float *scratch);
/* rows r0 … r0+nr−1 of a one-part, non-io tensor in fp32: a pointer into w->f32, or dequantised
 * into scratch (nr·cols floats) */
const float *weight_rows_f32(const WeightView *w, int r0, int nr, float *scratch);

/* out [N,cols] = w[tokens[n], :] · scale (the embedding lookup; one-part, non-io) */
void weight_embed(float *out, const int *tokens, const WeightView *w, float scale, int N);

/* y [B,rows] = x [B,cols] · w_partᵀ + b (b [rows] or NULL): the decode product of part p,
 * by gemv_linear / gemv_io (fp32) or the narrow kernels of gemv_narrow.c */
void gemv_view(float *y, const float *x, const WeightView *w, int p, const float *b, int B);

/* 1 if tensor t is one of the matrices a narrow model converts (the rest stay fp32) */
int weight_converts(const ParamTable *pt, int t);

/* The narrow copies of a model's matrices. */
typedef struct NarrowWeights NarrowWeights;

/* Converts the matrices of params (table pt) to f (bf16 or int8). Returns NULL and sets *bad
 * to the index of the first tensor holding a non-finite value (or, for bf16, a value beyond
 * its range) that cannot be converted. */
NarrowWeights *narrow_weights_create(const ParamTable *pt, const float *params, WeightFormat f, int *bad);
void narrow_weights_free(NarrowWeights *nw);
WeightFormat narrow_weights_format(const NarrowWeights *nw);
/* the view of tensor t: its narrow copy, or (a tensor kept in fp32, or nw NULL) the parameter */
WeightView narrow_weights_view(const NarrowWeights *nw, const ParamTable *pt, const float *params, int t);
/* the scratch weight_f32 / weight_rows_f32 may fill: the largest converted tensor other than
 * the embedding table (the table is read in blocks of narrow_weights_table_rows rows) */
float *narrow_weights_scratch(const NarrowWeights *nw);
int narrow_weights_table_rows(const NarrowWeights *nw, int D);
/* bytes of the narrow copies (data + scales) */
size_t narrow_weights_bytes(const NarrowWeights *nw);

#endif
