/* Task examples (data/tasks.h) to token ids, as lm-evaluation-harness builds its requests.
 *
 * Multiple choice, plain: choice j is the continuation k_j = target_delimiter + choice_j of the
 * context c. Trailing whitespace of c (ASCII space, tab, CR, LF, FF, VT) moves to the front of
 * k_j; then whole = encode(c' + k_j), ctx = encode(c'), and the continuation tokens are
 * whole[len(ctx):] — the harness's split, so a merge across the boundary stays with the
 * continuation. The sequence scored is <bos> ctx cont_j (the context is encoded once for every
 * choice; cont_j is never empty: a choice that adds no token after the context is refused).
 * Partial scoring: the same with context_j and the one continuation.
 * Generation: <bos> encode(prompt).
 *
 * Few-shot (n > 0): n examples drawn without replacement from a shot file (seeded by the seed and
 * the example's index), never one whose context / prompt equals the example's own; each shot
 * reads context + target_delimiter + gold choice (generation: prompt + " " + its "target", else
 * answers[0]), and the shots joined by "\n\n" and followed by "\n\n" come before the context.
 *
 * Chat (instruction-tuned models): the prompt is the chat template's user turn (data/chat.h),
 * shots as earlier user/model turn pairs, and the continuation is encode(choice) with no delimiter
 * (the template's "model\n" header ends the context, as the harness drops the delimiter under a
 * chat template); generation stops at <end_of_turn> too. */
#ifndef GRIFFIN_TASK_PROMPT_H
#define GRIFFIN_TASK_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "data/tasks.h"
#include "data/tokenizer.h"

typedef struct {
    int fewshot;             /* shots per example (0: none) */
    const TaskFile *shots;   /* where shots come from (NULL: the task file itself) */
    uint64_t seed;
    int chat;
} TaskPromptOptions;

/* One encoded example. Multiple choice: n_ctx contexts (1 when shared, else one per choice) and
 * n_req continuations, request j after context ctx_of[j]. Generation: ctx[0] is the prompt. */
typedef struct {
    int n_ctx, n_req;
    uint32_t **ctx;          /* [n_ctx] token ids, <bos> first */
    size_t *ctx_len;         /* [n_ctx] */
    uint32_t **cont;         /* [n_req] */
    size_t *cont_len;        /* [n_req] */
    int *ctx_of;             /* [n_req] */
} TaskTokens;

/* Encodes example i of t. Returns 0, or -1 with err = "path:line: reason" (a choice adding no
 * token, too few shots, text the tokenizer refuses). */
int task_encode(const Tokenizer *tok, const TaskFile *t, size_t i, const TaskPromptOptions *o, TaskTokens *out,
                char *err, size_t errlen);
void task_tokens_free(TaskTokens *tt);

/* The text before the continuation after the few-shot prefix (no chat): exposed for tests. */
char *task_fewshot_prefix(const TaskFile *t, size_t i, const TaskPromptOptions *o, char *err, size_t errlen);

#endif
