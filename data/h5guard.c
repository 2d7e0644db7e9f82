/* Whole-file checksum of griffin's HDF5 files (layout in data/h5guard.h). */
#include "data/h5guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const uint8_t MAGIC[16] = "\x89GRIFFIN-CRC\r\n\x1a\n";
static const uint8_t HDF5_SIGNATURE[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
#define VERSION 1u
#define NOTE "griffin.c: CRC-32 of this file after byte 512; HDF5 reads it as a 512-byte user block\n"

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t header_crc(const uint8_t *h) {
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, h, 32);
    c = crc32(c, h + 36, H5GUARD_BYTES - 36);
    return (uint32_t)c;
}

void h5guard_header(uint8_t hdr[H5GUARD_BYTES], uint32_t payload_crc, uint64_t payload_size) {
    memset(hdr, 0, H5GUARD_BYTES);
    memcpy(hdr, MAGIC, sizeof MAGIC);
    put32(hdr + 16, VERSION);
    put32(hdr + 20, payload_crc);
    put64(hdr + 24, payload_size + H5GUARD_BYTES);
    memcpy(hdr + 36, NOTE, sizeof NOTE - 1);
    put32(hdr + 32, header_crc(hdr));
}

/* CRC-32 of f from its current position to the end; -1 on a read error */
static int crc_rest(FILE *f, uint32_t *out, uint64_t *bytes) {
    enum { BLOCK = 1 << 20 };
    unsigned char *buf = malloc(BLOCK);
    if (!buf) return -1;
    uLong c = crc32(0L, Z_NULL, 0);
    uint64_t total = 0;
    size_t n;
    while ((n = fread(buf, 1, BLOCK, f)) > 0) {
        c = crc32(c, buf, (uInt)n);
        total += n;
    }
    int rc = ferror(f) ? -1 : 0;
    free(buf);
    *out = (uint32_t)c;
    *bytes = total;
    return rc;
}

static int check(const char *path, int payload, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return H5GUARD_MISSING;
    }
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        fclose(f);
        return H5GUARD_MISSING;
    }
    uint8_t h[H5GUARD_BYTES];
    size_t got = fread(h, 1, sizeof h, f);
    int rc = H5GUARD_BAD;
    if (got >= sizeof HDF5_SIGNATURE && !memcmp(h, HDF5_SIGNATURE, sizeof HDF5_SIGNATURE)) {
        rc = H5GUARD_LEGACY;
    } else if (got == 0) {
        snprintf(err, errlen, "empty file");
    } else if (memcmp(h, MAGIC, got < sizeof MAGIC ? got : sizeof MAGIC)) {
        snprintf(err, errlen, "not an HDF5 file (its first bytes are neither griffin's header nor the HDF5 signature)");
    } else if (got < sizeof h) {
        snprintf(err, errlen, "truncated to %zu bytes (inside its %d-byte header)", got, H5GUARD_BYTES);
    } else if (get32(h + 32) != header_crc(h)) {
        snprintf(err, errlen, "damaged header (its CRC-32 is %08x, the header's bytes give %08x)", get32(h + 32),
                 header_crc(h));
    } else if (get32(h + 16) != VERSION) {
        snprintf(err, errlen, "header version %u (this build reads %u)", get32(h + 16), VERSION);
    } else if ((uint64_t)st.st_size != get64(h + 24)) {
        snprintf(err, errlen, "%s: %llu bytes, the header says %llu",
                 (uint64_t)st.st_size < get64(h + 24) ? "truncated" : "extra bytes at the end",
                 (unsigned long long)st.st_size, (unsigned long long)get64(h + 24));
    } else if (!payload) {
        rc = H5GUARD_OK;
    } else {
        uint32_t c;
        uint64_t n;
        if (crc_rest(f, &c, &n)) {
            snprintf(err, errlen, "read error: %s", strerror(errno));
            rc = H5GUARD_MISSING;
        } else if (n + H5GUARD_BYTES != get64(h + 24)) {
            snprintf(err, errlen, "changed while being read (%llu bytes, the header says %llu)",
                     (unsigned long long)(n + H5GUARD_BYTES), (unsigned long long)get64(h + 24));
        } else if (c != get32(h + 20)) {
            snprintf(err, errlen, "whole-file CRC-32 mismatch (stored %08x, data %08x): damaged", get32(h + 20), c);
        } else {
            rc = H5GUARD_OK;
        }
    }
    fclose(f);
    return rc;
}

int h5guard_check(const char *path, char *err, size_t errlen) { return check(path, 1, err, errlen); }

int h5guard_check_header(const char *path, char *err, size_t errlen) { return check(path, 0, err, errlen); }

int h5guard_identity(const char *path, uint32_t *crc, uint64_t *size, char *err, size_t errlen) {
    int rc = check(path, 0, err, errlen);
    if (rc < 0) return rc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return H5GUARD_MISSING;
    }
    uint8_t h[H5GUARD_BYTES];
    if (rc == H5GUARD_OK) { /* checked by check(): the recorded CRC-32 and size */
        rc = fread(h, 1, sizeof h, f) == sizeof h ? 0 : H5GUARD_MISSING;
        *crc = get32(h + 20), *size = get64(h + 24);
    } else { /* legacy: every byte */
        rc = crc_rest(f, crc, size) ? H5GUARD_MISSING : 0;
    }
    if (rc) snprintf(err, errlen, "read error: %s", strerror(errno));
    fclose(f);
    return rc;
}

int h5guard_seal(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r+b");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open to seal: %s", path, strerror(errno));
        return -1;
    }
    uint32_t c;
    uint64_t n;
    uint8_t h[H5GUARD_BYTES];
    int rc = fseek(f, H5GUARD_BYTES, SEEK_SET) || crc_rest(f, &c, &n) ? -1 : 0;
    if (!rc) {
        h5guard_header(h, c, n);
        rc = fseek(f, 0, SEEK_SET) || fwrite(h, 1, sizeof h, f) != sizeof h || fflush(f) || fsync(fileno(f)) ? -1 : 0;
    }
    if (rc) snprintf(err, errlen, "%s: cannot write its checksum header: %s", path, strerror(errno));
    if (fclose(f) && !rc) {
        snprintf(err, errlen, "%s: close failed: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}
