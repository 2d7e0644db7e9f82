/* `griffin eval --compare-weights bf16,int8` (train/tools/eval_weights.c). */
#ifndef GRIFFIN_EVAL_WEIGHTS_H
#define GRIFFIN_EVAL_WEIGHTS_H

/* For each format of the comma-separated list: the held-out loss against fp32's, the top-1
 * agreement of next-token predictions and the greedy text agreement over 64 prompts of the
 * corpus, on the first max_docs documents (all if < 0) at length max_len (0: the checkpoint's
 * seq_len), batch rows per forward. Prints key: value lines; returns 0. */
int eval_compare_weights(const char *ckpt, const char *path, const char *formats, long max_docs, int max_len,
                         int batch);

#endif
