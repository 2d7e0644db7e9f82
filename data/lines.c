#include "data/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/check.h"

#define READ_CHUNK (1 << 18)

struct LineReader {
    char *path;
    gzFile gz;
    char *buf; /* unread bytes buf[pos:end] */
    size_t pos, end, cap;
    char *line;
    size_t line_cap;
    size_t lineno;
    int eof;
};

LineReader *line_reader_open(const char *path) {
    LineReader *r = callocCheck(1, sizeof *r);
    r->path = mallocCheck(strlen(path) + 1);
    strcpy(r->path, path);
    r->gz = gzopen(path, "rb");
    CHECK(r->gz, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(r->gz, 1 << 17);
    r->cap = READ_CHUNK;
    r->buf = mallocCheck(r->cap);
    r->line_cap = 1 << 12;
    r->line = mallocCheck(r->line_cap);
    return r;
}

/* Reads more bytes into buf; returns 0 at the end of the file. */
static int fill(LineReader *r) {
    if (r->eof) return 0;
    int n = gzread(r->gz, r->buf, (unsigned)r->cap);
    int err;
    const char *msg = gzerror(r->gz, &err);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
        DIE("%s:%zu: read error (%s%s)", r->path, r->lineno + 1, msg,
            err == Z_BUF_ERROR ? ": truncated gzip file" : "");
    r->pos = 0;
    r->end = (size_t)n;
    if (n == 0) {
        r->eof = 1;
        return 0;
    }
    return 1;
}

const char *line_reader_next(LineReader *r, size_t *len) {
    size_t n = 0;
    int got = 0;
    for (;;) {
        if (r->pos == r->end && !fill(r)) break;
        got = 1;
        char *start = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (n + take + 1 > r->line_cap) {
            while (n + take + 1 > r->line_cap) r->line_cap *= 2;
            r->line = realloc(r->line, r->line_cap);
            CHECK(r->line, "out of memory reading %s", r->path);
        }
        memcpy(r->line + n, start, take);
        n += take;
        r->pos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!got) return NULL;
    if (n > 0 && r->line[n - 1] == '\r') n--;
    r->line[n] = '\0';
    r->lineno++;
    *len = n;
    return r->line;
}

size_t line_reader_lineno(const LineReader *r) { return r->lineno; }

uint64_t line_reader_offset(const LineReader *r) { return (uint64_t)gzoffset(r->gz); }

void line_reader_close(LineReader *r) {
    if (!r) return;
    gzclose(r->gz);
    free(r->buf);
    free(r->line);
    free(r->path);
    free(r);
}

uint32_t file_crc32(const char *path, uint64_t *size) {
    FILE *f = fopenCheck(path, "rb");
    unsigned char *buf = mallocCheck(1 << 20);
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t total = 0;
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, f)) > 0) {
        crc = crc32(crc, buf, (uInt)n);
        total += n;
    }
    CHECK(!ferror(f), "%s: read error", path);
    fclose(f);
    free(buf);
    if (size) *size = total;
    return (uint32_t)crc;
}
