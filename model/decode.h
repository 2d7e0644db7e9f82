/* Generation with the fixed-size state (docs/architecture.md §9): per recurrent layer the RG-LRU
 * state [B,E] (float32) and the last 3 conv inputs [B,3,E]; per attention layer a ring of the
 * last A keys and values [B,A,K]; and the number of tokens seen per sequence. Its size
 * depends on the config and the batch only, never on how long generation runs.
 *
 * Prefill runs the parallel training forward over the prompt and loads the state from its
 * activations; decode advances one token per sequence per step. */
#ifndef GRIFFIN_DECODE_H
#define GRIFFIN_DECODE_H

#include <stddef.h>

#include "griffin.h"

typedef struct {
    const GriffinModel *m;
    int B;
    float **lru;       /* [depth] -> [B,E] (recurrent layers, else NULL) */
    float **conv;      /* [depth] -> [B,3,E] */
    float **kc, **vc;  /* [depth] -> [B,A,K] (attention layers, else NULL) */
    int *n;            /* [B] tokens seen in the row (pads included) = absolute index of the next */
    int *seg_start;    /* [B] absolute index where the current document started */
    int *next_pos;     /* [B] segment position of the next token (RoPE, RG-LRU reset) */
    size_t state_floats;
    /* one-step scratch and outputs */
    float *x, *tn, *res, *s[6], *q, *k, *v, *att, *rstd;
    float *logits;     /* [B,V] soft-capped logits of the last step */
    float *lora_u;     /* [B, r] adapter scratch (a model with LoRA adapters) */
    int *pos;          /* [B] */
} DecodeState;

DecodeState *decode_create(const GriffinModel *m, int B);
void decode_free(DecodeState *s);
/* bytes of the state proper (lru + conv + key/value rings + counters) */
size_t decode_state_bytes(const DecodeState *s);
/* zero the state: every sequence starts empty */
void decode_reset(DecodeState *s);

/* Runs the parallel forward of m (created for at least T columns; a batch larger than its
 * max_B rows runs in chunks of max_B) over a
 * batch of prompts tokens [B,T] with positions pos [B,T]: rows may be left-padded (pads have
 * position −1 and any token) and may hold several documents (position 0 starts one); the
 * decode continues the last document of each row.
 * Loads the state and returns the logits of the last position [B,V]. The model's weights are
 * shared with the state's model (the same parameters). */
const float *decode_prefill(DecodeState *s, GriffinModel *m, const int *tokens, const int *pos, int T);

/* Copies sequence b_src of src into sequence b_dst of dst (states of the same model), e.g. to
 * fan one prefilled prompt out to several samples. */
void decode_copy_row(DecodeState *dst, int b_dst, const DecodeState *src, int b_src);

/* Feeds one token per sequence (at position n[b]) and returns its logits [B,V]. */
const float *decode_step(DecodeState *s, const int *tokens);

#endif
