/* Line reader over plain or gzip-compressed files (zlib reads both transparently).
 * Lines may be of any length; a truncated gzip stream or a read error dies naming file:line. */
#ifndef GRIFFIN_LINES_H
#define GRIFFIN_LINES_H

#include <stddef.h>
#include <stdint.h>

typedef struct LineReader LineReader;

LineReader *line_reader_open(const char *path);
/* Next line without its '\n' (and '\r'), NUL-terminated, valid until the next call; NULL at the
 * end of the file. *len gets its length. */
const char *line_reader_next(LineReader *r, size_t *len);
/* 1-based number of the line last returned. */
size_t line_reader_lineno(const LineReader *r);
/* Compressed bytes consumed so far (for progress). */
uint64_t line_reader_offset(const LineReader *r);
void line_reader_close(LineReader *r);

/* CRC-32 and size of a file's raw bytes (for provenance). */
uint32_t file_crc32(const char *path, uint64_t *size);

#endif
