/* A whole-file checksum for griffin's HDF5 files (corpora and checkpoints), checked before
 * HDF5 opens them: HDF5 1.10 checksums chunk data (Fletcher32) but not its own metadata, and
 * some damaged metadata makes it crash or loop rather than fail. A file that passes this
 * check is byte for byte what was written, so HDF5 only ever parses intact files.
 *
 * Layout: the first H5GUARD_BYTES of the file are an HDF5 user block (HDF5 tools, h5py and
 * h5diff read such a file as usual and skip the block) holding, little-endian,
 *   0  magic "\x89GRIFFIN-CRC\r\n\x1a\n" (16 bytes)
 *   16 uint32 header version (1)
 *   20 uint32 CRC-32 (zlib) of bytes [H5GUARD_BYTES, size)
 *   24 uint64 size of the whole file in bytes
 *   32 uint32 CRC-32 of the header itself (bytes [0, 32) and [36, H5GUARD_BYTES))
 *   36 a line of text saying what this is; zeros to the end
 * Files written before the guard start with the HDF5 signature: they are still read (the
 * check reports them as unguarded) and have only HDF5's own checks. */
#ifndef GRIFFIN_H5GUARD_H
#define GRIFFIN_H5GUARD_H

#include <stddef.h>
#include <stdint.h>

#define H5GUARD_BYTES 512

enum {
    H5GUARD_OK = 0,       /* header present, size and checksums match */
    H5GUARD_LEGACY = 1,   /* an HDF5 file without the header (written before it existed) */
    H5GUARD_MISSING = -1, /* cannot open or read the file (message in err) */
    H5GUARD_BAD = -2,     /* damaged or truncated, or not an HDF5 file (message in err) */
};

/* Checks path's header and the CRC-32 of the rest of the file. On failure err holds one
 * line (without the path) saying what is wrong. */
int h5guard_check(const char *path, char *err, size_t errlen);

/* The same without the CRC-32 of the payload (header, its checksum, version and the file's
 * size only): for files too large to read whole when opened. H5GUARD_OK then means "the
 * header is intact and the size is right", not that the payload was checked. */
int h5guard_check_header(const char *path, char *err, size_t errlen);

/* The file's identity without reading it whole when it is guarded: its size and the CRC-32 its
 * header records (of bytes [H5GUARD_BYTES, size)), after h5guard_check_header; an unguarded
 * (legacy) HDF5 file gets the CRC-32 of all its bytes computed. 0, or H5GUARD_MISSING /
 * H5GUARD_BAD with one line (without the path) in err. */
int h5guard_identity(const char *path, uint32_t *crc, uint64_t *size, char *err, size_t errlen);

/* Fills the header for a payload of payload_size bytes with CRC-32 payload_crc. */
void h5guard_header(uint8_t hdr[H5GUARD_BYTES], uint32_t payload_crc, uint64_t payload_size);

/* Writes the header into the first H5GUARD_BYTES of an HDF5 file created with a user block of
 * that size (H5Pset_userblock), from the CRC-32 of the rest, and fsyncs it. 0, or -1 with a
 * message in err. */
int h5guard_seal(const char *path, char *err, size_t errlen);

#endif
