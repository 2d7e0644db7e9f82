/* A reward model = the Griffin backbone of a model whose config has reward_head = true, plus
 * the head kernels of rlhf.h: rows are chat renderings prompt ++ reply (reply = reply tokens
 * + <end_of_turn>), right-padded, and the score is read on the row's last token. */
#ifndef GRIFFIN_REWARD_MODEL_H
#define GRIFFIN_REWARD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h"
#include "model/griffin.h"

/* Writes prompt ++ reply into one row of T tokens (tokens, pos [T]; pads: token 0, position
 * continuing) and returns the index of its last token; a sequence longer than T is cut to
 * T (*truncated = 1). */
int rm_pack_row(int *tokens, int *pos, int T, const uint32_t *prompt, size_t np, const uint32_t *reply, size_t nr,
                int *truncated);

/* r [R] = head(final hidden state at rows[i]) for a batch tokens, pos [R,T]; rows [R] are
 * flat row indices (b·T + last). m must have the reward head. */
void rm_score(GriffinModel *m, float *r, const int *tokens, const int *pos, const int *rows, int R, int T);
/* Backward of Σ dr_i r_i of the last rm_score: head gradients and the backbone's, accumulated
 * into m->grads. dhidden: scratch [R·T, D]. */
void rm_backward(GriffinModel *m, float *dhidden, const float *dr, const int *rows, int R);

#endif

/* Scores of preference pairs: rows [0, n) chosen, [n, 2n) rejected. */
typedef struct {
    double loss;        /* Σ −log σ(r_c − r_r − margin) */
    double gap;         /* Σ (r_c − r_r) */
    double correct;     /* pairs with r_c > r_r */
    double pairs;
    double truncated;   /* sequences cut to T */
} PairStats;


/* Scores the preference pairs first, first+stride, ... (< last) of a preference corpus in
 * batches of B pairs (m allocated for 2B x T); adds to *st (local sums: add them over ranks).
 * tok, pos [2B·T], rows [2B], r [2B]: scratch. */
void rm_eval_pairs(GriffinModel *m, Corpus *c, size_t first, size_t stride, size_t last, int B, int T,
                   float margin, int *tok, int *pos, int *rows, float *r, PairStats *st);
/* Packs pair d into slot b of a 2B-row batch (chosen row b, rejected row B + b); returns the
 * number of truncated sequences. */
int rm_pack_pair(Corpus *c, size_t d, int b, int B, int T, int *tok, int *pos, int *rows);
