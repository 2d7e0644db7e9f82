/* The model side of `griffin eval --tasks`: log-likelihoods of continuations and greedy
 * generation for encoded task examples (data/task_prompt.h).
 *
 * With the fixed-size state (task_score_states): the contexts of a batch of examples run once,
 * left-padded, through the parallel prefill (model/decode.h) — the first T tokens of a longer
 * context there, the rest by decode steps, so no context is too long — and each context's state
 * is copied to every choice that continues it (decode_copy_row, as rlhf copies prompt states to
 * samples). The choices then advance together one decode step per continuation token (rows
 * whose continuation has ended are dropped once they are half the state): a 4-choice example
 * costs one context pass plus four short continuations.
 * From scratch (task_score_scratch): every request <bos> ctx cont as its own row of the
 * parallel forward, the way a harness without state scores it; the reference for tests and the
 * speed-up.
 *
 * Both give, per request in example order, score = Σ_{t in cont} log softmax(logits_t)[token_t]
 * (double precision over the float32 logits) and greedy = every continuation token was the argmax. */
#ifndef GRIFFIN_TASK_SCORE_H
#define GRIFFIN_TASK_SCORE_H

#include "data/task_prompt.h"
#include "data/tokenizer.h"
#include "model/griffin.h"

/* m: any model of the checkpoint created for T columns (rows: the prefill runs in chunks of
 * m->max_B). ex [n]; score, greedy [Σ n_req]. */
void task_score_states(GriffinModel *m, int T, const TaskTokens *const *ex, int n, double *score, int *greedy);
/* m created with logits kept (no GRIFFIN_CHUNKED_LOSS) for at least the longest request. */
void task_score_scratch(GriffinModel *m, const TaskTokens *const *ex, int n, double *score, int *greedy);

typedef struct {
    int max_new;            /* tokens at most */
    const int *stop_ids;    /* stop tokens (<eos>, <end_of_turn>) */
    int n_stop;
    const char *const *until; /* stop strings: the reply ends before the first of them */
    int n_until;
    int vocab_limit;        /* greedy argmax over ids below it (the tokenizer's size) */
} TaskGenOptions;

/* Greedy replies (malloc'd strings, the stop token or string excluded) to n prompts ex[i]->ctx[0]. */
void task_generate(GriffinModel *m, int T, const Tokenizer *tok, const TaskTokens *const *ex, int n,
                   const TaskGenOptions *o, char **replies);

#endif
