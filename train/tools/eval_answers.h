/* `griffin eval --reward-model RM --prompts P.h5` (train/tools/eval_answers.c). */
#ifndef GRIFFIN_EVAL_ANSWERS_H
#define GRIFFIN_EVAL_ANSWERS_H

/* Answers the first max_docs prompts (all if < 0) of a prompt or preference corpus greedily
 * with the policy ckpt (at most max_new tokens, batch prompts at a time), scores each answer
 * with the reward model rm exactly as rlhf's held-out evaluation does (the same rollout, the
 * same packing, the score on the last reply token), and prints prompts, rm_score (mean) with
 * its standard error, log_ratio_to_reference (log π(answer) − log π_ref(answer), summed over
 * the answer: rlhf's k1 term, not a KL estimate since the answer is greedy, not sampled; the
 * reference defaults to the policy itself: 0), ended_with_end_of_turn and mean_answer_tokens. */
int eval_rm_answers(const char *ckpt, const char *rm, const char *prompts, const char *reference, long max_docs,
                    int max_new, int batch);

#endif
