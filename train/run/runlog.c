#include "train/run/runlog.h"

#include "train/ckpt/checkpoint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void run_mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(buf, 0755);
        *p = '/';
    }
    CHECK(mkdir(buf, 0755) == 0 || errno == EEXIST, "cannot create %s: %s", buf, strerror(errno));
}

void run_out_open(RunOut *o, const char *dir, int rank0) {
    memset(o, 0, sizeof *o);
    o->rank0 = rank0;
    run_mkdirs(dir);
    if (!rank0) return;
    char p[4200];
    snprintf(p, sizeof p, "%s/log.txt", dir);
    o->log = fopenCheck(p, "a");
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    o->metrics = fopenCheck(p, "a");
}

void run_out_close(RunOut *o) {
    if (o->log) fclose(o->log);
    if (o->metrics) fclose(o->metrics);
    o->log = o->metrics = NULL;
}

void run_say(RunOut *o, const char *fmt, ...) {
    if (!o->rank0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (o->log) {
        va_start(ap, fmt);
        vfprintf(o->log, fmt, ap);
        va_end(ap);
        fflush(o->log);
    }
}

void run_metric(RunOut *o, const char *fmt, ...) {
    if (!o->rank0 || !o->metrics) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->metrics, fmt, ap);
    va_end(ap);
    fputc('\n', o->metrics);
    fflush(o->metrics);
}

void *run_read_file(const char *path, size_t *len) {
    FILE *f = fopenCheck(path, "rb");
    CHECK(fseek(f, 0, SEEK_END) == 0, "cannot read %s", path);
    long n = ftell(f);
    CHECK(n >= 0, "cannot read %s", path);
    rewind(f);
    char *buf = mallocCheck((size_t)n + 1);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}


int run_resume_path(const char *resume, const char *out_dir, int report, char *path, size_t len) {
    path[0] = 0;
    if (!strcmp(resume, "auto")) return ckpt_latest(out_dir, path, len, report ? stderr : NULL) == CKPT_OK;
    if (!strcmp(resume, "none") || !resume[0]) return 0;
    snprintf(path, len, "%s", resume);
    return 1;
}
