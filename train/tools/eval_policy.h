/* `griffin eval --preferences` for a language model without a reward head (train/tools/eval_policy.c). */
#ifndef GRIFFIN_EVAL_POLICY_H
#define GRIFFIN_EVAL_POLICY_H

/* Prints pairs, policy_accuracy (mean log-probability per reply token decides),
 * policy_accuracy_total_logprob, mean_logprob_gap and truncated for the first max_docs pairs
 * (all if < 0) of a preference corpus, batch pairs per forward at length max_len (0: the
 * checkpoint's seq_len); with reference (or NULL) also implicit_reward_accuracy and
 * implicit_reward_margin against that checkpoint. */
int eval_policy_preferences(const char *ckpt, const char *path, long max_docs, int batch, int max_len,
                            const char *reference);

#endif
