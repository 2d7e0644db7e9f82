/* `griffin eval --checkpoint C --tasks FILE.jsonl[,FILE2...]` (train/tools/eval_tasks.c): multiple-choice
 * and generation tasks scored as lm-evaluation-harness scores them (data/tasks.h,
 * data/task_prompt.h, train/tools/task_score.h). cmd_eval hands its arguments over when --tasks is
 * among them. */
#ifndef GRIFFIN_EVAL_TASKS_H
#define GRIFFIN_EVAL_TASKS_H

int cmd_eval_tasks(int argc, char **argv);

#endif
