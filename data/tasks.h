/* Task files of `griffin eval --tasks` (DESIGN.md "Files"): JSONL, one example per line, in the
 * conventions of lm-evaluation-harness. One kind per file:
 *
 *   multiple choice   {"context": "...", "choices": ["...", ...], "label": k}
 *                     optional "target_delimiter" (default " "): choice j is scored as the
 *                     continuation target_delimiter + choices[j] of the context;
 *   partial scoring   {"contexts": ["...", ...], "continuation": "...", "label": k}
 *                     (WinoGrande): the same continuation after each context, the context
 *                     that makes it likeliest wins;
 *   generation        {"prompt": "...", "answers": ["...", ...]} with optional
 *                     "match": "exact" | "contains" | "number" (default exact) and "target",
 *                     the text that follows the prompt when the example is a few-shot shot
 *                     (default answers[0]; GSM8K: the worked solution).
 *
 * An optional first line {"task": "name", ...} is a header: "fewshot" (int), "target_delimiter",
 * "match", "until" (list of stop strings), "max_new_tokens" (int) set the defaults of every
 * example (the command line overrides them). Other keys of an example line (an "id", a
 * source) are ignored; blank lines are skipped.
 *
 * Refused, as one line "path:line: reason": a line that is not a JSON object, a line of another
 * kind of file (a corpus line of `griffin tokenize`: "text", "messages", "chosen"), a line
 * without "choices" / "answers", fewer than 2 choices, an empty choice or answer, a label that
 * is not an integer in [0, #choices), a file mixing generation and multiple choice (plain and
 * partial-scoring lines may mix), a file without examples.
 * This room reads text only: tokenisation and prompts are data/task_prompt.h. */
#ifndef GRIFFIN_TASKS_H
#define GRIFFIN_TASKS_H

#include <stddef.h>

typedef enum { TASK_CHOICE = 0, TASK_GENERATE = 1 } TaskKind;
typedef enum { MATCH_EXACT = 0, MATCH_CONTAINS, MATCH_NUMBER } TaskMatch;

typedef struct {
    size_t line;         /* 1-based line in the file */
    /* multiple choice: n_choices requests (context_j, delimiter + choice_j); for a partial-
     * scoring line contexts[j] differ and every choice_j is the one continuation */
    char *context;       /* the shared context (NULL on a partial-scoring line) */
    char **contexts;     /* [n_choices] partial scoring only, else NULL */
    char **choices;      /* [n_choices] (partial scoring: NULL, see continuation) */
    char *continuation;  /* partial scoring only */
    char *delimiter;     /* target delimiter of this example */
    int n_choices, label;
    /* generation */
    char *prompt;
    char **answers;      /* [n_answers] */
    char *target;        /* few-shot text after the prompt (NULL: answers[0]) */
    int n_answers;
    TaskMatch match;
} TaskExample;

typedef struct {
    char *path, *name;   /* name: the header's "task", else the file name without .jsonl */
    TaskKind kind;
    int partial;         /* some lines score by partial scoring (contexts differ) */
    TaskExample *ex;
    size_t n;
    int fewshot;         /* the header's, -1 if it gives none */
    char **until;        /* the header's stop strings */
    int n_until;
    int max_new_tokens;  /* the header's, 0 if it gives none */
} TaskFile;

/* Reads and checks a whole task file (plain or gzip). Returns 0, or -1 with err set to one line
 * "path:line: reason" and *out left empty. */
int task_file_read(const char *path, TaskFile *out, char *err, size_t errlen);
/* The same from memory (len bytes; name stands for the path in messages). */
int task_file_parse(const char *name, const char *text, size_t len, TaskFile *out, char *err, size_t errlen);
void task_file_free(TaskFile *t);

/* Request j of a multiple-choice example: its context and the text after the delimiter. */
const char *task_context(const TaskExample *e, int j);
const char *task_choice(const TaskExample *e, int j);
const char *task_kind_name(const TaskFile *t);
const char *task_match_name(TaskMatch m);
/* Is a generated reply correct for generation example e? Any of its answers, by e->match:
 * exact     the reply, surrounding whitespace trimmed, equals the answer (trimmed);
 * contains  the answer (trimmed) occurs in the reply, ignoring ASCII case;
 * number    the last number in the reply (GSM8K's convention: -?digits with "," separators and
 *           an optional .fraction; commas dropped) equals the answer's last number. */
int task_answer_correct(const TaskExample *e, const char *reply);
/* The last number of s as a double (commas dropped); 0 if none. */
int task_last_number(const char *s, double *out);
/* "exact" | "contains" | "number" -> 0..2; -1 otherwise */
int task_match_parse(const char *s);

#endif
