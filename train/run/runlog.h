/* Small helpers of the step engine and the stages: rank-0 output to the console and
 * <out_dir>/log.txt plus a metrics.jsonl beside it, directory creation, whole-file reads,
 * the checkpoint a run resumes from. */
#ifndef GRIFFIN_RUNLOG_H
#define GRIFFIN_RUNLOG_H

#include <stddef.h>
#include <stdio.h>

#include "common/check.h"

typedef struct {
    int rank0;
    FILE *log, *metrics;   /* rank 0 only */
} RunOut;

/* rank 0 opens <dir>/log.txt and <dir>/metrics.jsonl for appending (dir created) */
void run_out_open(RunOut *o, const char *dir, int rank0);
void run_out_close(RunOut *o);
/* printf to the console and the log (rank 0 only) */
void run_say(RunOut *o, const char *fmt, ...) GRIFFIN_PRINTF(2, 3);
/* one line to metrics.jsonl (rank 0 only; the caller writes the JSON object, no newline) */
void run_metric(RunOut *o, const char *fmt, ...) GRIFFIN_PRINTF(2, 3);

void run_mkdirs(const char *path);
/* malloc'd contents (+ a NUL), dies with the path on failure */
void *run_read_file(const char *path, size_t *len);
/* The checkpoint a run resumes from (train.resume: "auto" = the newest valid one in out_dir,
 * damaged ones reported when report is set; "none" or "" = none; else that path).
 * Returns 1 and fills path, or 0. */
int run_resume_path(const char *resume, const char *out_dir, int report, char *path, size_t len);

#endif
