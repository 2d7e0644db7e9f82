/* safetensors reader and writer; see safetensors.h for the format and the checks. */
#define _GNU_SOURCE
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/sys.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

static const char *const dtype_names[] = {"F32", "BF16", "F16"};

const char *st_dtype_name(StDtype d) { return (unsigned)d < 3 ? dtype_names[d] : "?"; }

int st_dtype_parse(const char *s, StDtype *d) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, dtype_names[i])) {
            *d = (StDtype)i;
            return 0;
        }
    return -1;
}

size_t st_dtype_size(StDtype d) { return d == ST_F32 ? 4 : 2; }

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = mallocCheck(n);
    memcpy(p, s, n);
    return p;
}

/* ---- conversions ---- */

uint16_t st_f32_to_bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7F800000u) == 0x7F800000u && (b & 0x007FFFFFu)) return (uint16_t)((b >> 16) | 0x0040u); /* quiet NaN */
    b += 0x7FFFu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, b;
    if (exp == 0) {
        if (man == 0) {
            b = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            b = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3FFu) << 13;
        }
    } else if (exp == 31) {
        b = sign | 0x7F800000u | man << 13;
    } else {
        b = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* ---- reader ---- */

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
    char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int cmp_span(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

/* appends a tensor slot */
static StTensor *push_tensor(StSet *s, int *cap) {
    if (s->count == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        StTensor *p = realloc(s->t, sizeof(StTensor) * (size_t)*cap);
        CHECK(p, "out of memory");
        s->t = p;
    }
    StTensor *t = &s->t[s->count++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Opens one file as s->files[fi] and appends its tensors; only_names (may be NULL): the
 * index's weight_map, to check the shard holds exactly its tensors. */
static int open_file(StSet *s, int fi, int *cap, const char *path, char *err, size_t errlen) {
    StFile *f = &s->files[fi];
    f->path = dup_str(path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) return set_error(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st)) return set_error(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    uint8_t len8[8];
    if (size < 8 || pread_all(f->fd, len8, 8, 0))
        return set_error(err, errlen, "%s: truncated: %llu bytes, no 8-byte header length", path, (unsigned long long)size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
    if (n < 2 || n > ST_MAX_HEADER || n > size - 8)
        return set_error(err, errlen, "%s: bad header length %llu (file has %llu bytes; the limit is %llu): not a safetensors file or truncated",
                       path, (unsigned long long)n, (unsigned long long)size, (unsigned long long)ST_MAX_HEADER);
    f->data_start = 8 + n;
    f->data_len = size - 8 - n;
    char *hdr = mallocCheck((size_t)n);
    if (pread_all(f->fd, hdr, (size_t)n, 8)) {
        free(hdr);
        return set_error(err, errlen, "%s: cannot read the header: %s", path, strerror(errno));
    }
    json_error_t je;
    json_t *root = json_loadb(hdr, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    free(hdr);
    if (!root) return set_error(err, errlen, "%s: header is not valid JSON: %s (at byte %d)", path, je.text, je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return set_error(err, errlen, "%s: header is not a JSON object", path);
    }
    int rc = 0, first = s->count;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(val)) {
                rc = set_error(err, errlen, "%s: __metadata__ is not an object", path);
                break;
            }
            if (fi != 0) continue;
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = set_error(err, errlen, "%s: __metadata__.%s is not a string", path, mk);
                    break;
                }
                s->meta_key = realloc(s->meta_key, sizeof(char *) * (size_t)(s->n_meta + 1));
                s->meta_val = realloc(s->meta_val, sizeof(char *) * (size_t)(s->n_meta + 1));
                CHECK(s->meta_key && s->meta_val, "out of memory");
                s->meta_key[s->n_meta] = dup_str(mk);
                s->meta_val[s->n_meta++] = dup_str(json_string_value(mv));
            }
            if (rc) break;
            continue;
        }
        StTensor *t = push_tensor(s, cap);
        t->name = dup_str(key);
        t->file = fi;
        json_t *dt = json_object_get(val, "dtype"), *shape = json_object_get(val, "shape"),
               *off = json_object_get(val, "data_offsets");
        if (!json_is_object(val) || !json_is_string(dt) || !json_is_array(shape) || !json_is_array(off) ||
            json_array_size(off) != 2) {
            rc = set_error(err, errlen, "%s: tensor %s: entry needs dtype, shape and data_offsets [begin, end]", path, key);
            break;
        }
        if (st_dtype_parse(json_string_value(dt), &t->dtype)) {
            rc = set_error(err, errlen, "%s: tensor %s: dtype %s is not supported (F32, BF16, F16)", path, key,
                         json_string_value(dt));
            break;
        }
        if (json_array_size(shape) > ST_MAX_DIMS) {
            rc = set_error(err, errlen, "%s: tensor %s: more than %d dimensions", path, key, ST_MAX_DIMS);
            break;
        }
        t->ndim = (int)json_array_size(shape);
        t->numel = 1;
        for (int d = 0; d < t->ndim && !rc; d++) {
            json_t *e = json_array_get(shape, (size_t)d);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > ((json_int_t)1 << 40))
                rc = set_error(err, errlen, "%s: tensor %s: shape entry %d is not a size", path, key, d);
            else {
                t->shape[d] = json_integer_value(e);
                t->numel *= (uint64_t)t->shape[d];
                if (t->numel > ((uint64_t)1 << 50)) rc = set_error(err, errlen, "%s: tensor %s: shape too large", path, key);
            }
        }
        if (rc) break;
        json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
        if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
            json_integer_value(e) < json_integer_value(b)) {
            rc = set_error(err, errlen, "%s: tensor %s: data_offsets must be integers 0 <= begin <= end", path, key);
            break;
        }
        t->begin = (uint64_t)json_integer_value(b);
        t->end = (uint64_t)json_integer_value(e);
        uint64_t want = t->numel * st_dtype_size(t->dtype);
        if (t->end - t->begin != want) {
            rc = set_error(err, errlen, "%s: tensor %s: dtype %s with shape of %llu elements needs %llu bytes, but data_offsets span %llu (dtype mismatch)",
                         path, key, st_dtype_name(t->dtype), (unsigned long long)t->numel, (unsigned long long)want,
                         (unsigned long long)(t->end - t->begin));
            break;
        }
        if (t->end > f->data_len) {
            rc = set_error(err, errlen, "%s: truncated: tensor %s needs data bytes [%llu, %llu) but the file holds %llu",
                         path, key, (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)f->data_len);
            break;
        }
    }
    json_decref(root);
    if (rc) return rc;
    /* spans: no overlaps, no holes, the data section exactly covered */
    int nt = s->count - first;
    StTensor **by = mallocCheck(sizeof(StTensor *) * (size_t)(nt ? nt : 1));
    for (int i = 0; i < nt; i++) by[i] = &s->t[first + i];
    qsort(by, (size_t)nt, sizeof *by, cmp_span);
    uint64_t pos = 0;
    for (int i = 0; i < nt && !rc; i++) {
        if (by[i]->begin < pos)
            rc = set_error(err, errlen, "%s: tensor %s (bytes [%llu, %llu)) overlaps tensor %s (ends at %llu)", path, by[i]->name,
                         (unsigned long long)by[i]->begin, (unsigned long long)by[i]->end, by[i - 1]->name,
                         (unsigned long long)pos);
        else if (by[i]->begin > pos)
            rc = set_error(err, errlen, "%s: hole in the data section before tensor %s (bytes [%llu, %llu) are not indexed)", path,
                         by[i]->name, (unsigned long long)pos, (unsigned long long)by[i]->begin);
        else
            pos = by[i]->end;
    }
    free(by);
    if (!rc && pos != f->data_len)
        rc = set_error(err, errlen, "%s: %llu bytes after the last tensor are not indexed (data section %llu bytes)", path,
                     (unsigned long long)(f->data_len - pos), (unsigned long long)f->data_len);
    return rc;
}

static int open_index(StSet *s, int *cap, const char *path, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return set_error(err, errlen, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map) || json_object_size(map) == 0) {
        json_decref(root);
        return set_error(err, errlen, "%s: no weight_map object (not a safetensors index)", path);
    }
    /* the distinct shard names, in order of first appearance */
    int rc = 0, n = 0;
    const char **shards = mallocCheck(sizeof(char *) * json_object_size(map));
    const char *key;
    json_t *val;
    json_object_foreach(map, key, val) {
        if (!json_is_string(val) || strchr(json_string_value(val), '/') || !json_string_value(val)[0]) {
            rc = set_error(err, errlen, "%s: weight_map.%s is not a file name", path, key);
            break;
        }
        int k = 0;
        while (k < n && strcmp(shards[k], json_string_value(val))) k++;
        if (k == n) shards[n++] = json_string_value(val);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    if (!rc) {
        s->files = callocCheck((size_t)n, sizeof(StFile));
        for (int i = 0; i < n; i++) s->files[i].fd = -1;
        s->n_files = n;
    }
    for (int i = 0; i < n && !rc; i++) {
        char p[8192];
        snprintf(p, sizeof p, "%s%s", dir, shards[i]);
        int before = s->count;
        rc = open_file(s, i, cap, p, err, errlen);
        /* each shard holds exactly the tensors the index assigns to it */
        for (int j = before; j < s->count && !rc; j++) {
            json_t *v = json_object_get(map, s->t[j].name);
            if (!v) rc = set_error(err, errlen, "%s: tensor %s is not listed in the index %s", p, s->t[j].name, base_name(path));
            else if (strcmp(json_string_value(v), shards[i]))
                rc = set_error(err, errlen, "%s: tensor %s is listed in the index under %s", p, s->t[j].name, json_string_value(v));
        }
    }
    if (!rc) {
        /* every listed tensor was found */
        json_object_foreach(map, key, val) {
            int found = 0;
            for (int j = 0; j < s->count && !found; j++) found = !strcmp(s->t[j].name, key);
            if (!found) {
                rc = set_error(err, errlen, "%s: tensor %s listed in the index is missing from %s", path, key, json_string_value(val));
                break;
            }
        }
    }
    free(shards);
    json_decref(root);
    return rc;
}

int st_open(StSet *s, const char *path, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    int cap = 0, rc;
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json")) {
        rc = open_index(s, &cap, path, err, errlen);
    } else {
        s->files = callocCheck(1, sizeof(StFile));
        s->n_files = 1;
        rc = open_file(s, 0, &cap, path, err, errlen);
    }
    if (!rc && s->count > 1) {
        qsort(s->t, (size_t)s->count, sizeof(StTensor), cmp_name);
        for (int i = 1; i < s->count && !rc; i++)
            if (!strcmp(s->t[i].name, s->t[i - 1].name))
                rc = set_error(err, errlen, "tensor %s appears in both %s and %s", s->t[i].name, s->files[s->t[i - 1].file].path,
                             s->files[s->t[i].file].path);
    }
    if (rc) st_close(s);
    else s->path = dup_str(path);
    return rc;
}

void st_close(StSet *s) {
    for (int i = 0; i < s->n_files; i++) {
        if (s->files[i].fd >= 0 && s->files[i].path) close(s->files[i].fd);
        free(s->files[i].path);
    }
    for (int i = 0; i < s->count; i++) free(s->t[i].name);
    for (int i = 0; i < s->n_meta; i++) {
        free(s->meta_key[i]);
        free(s->meta_val[i]);
    }
    free(s->meta_key);
    free(s->meta_val);
    free(s->files);
    free(s->t);
    free(s->path);
    memset(s, 0, sizeof *s);
}

int st_find(const StSet *s, const char *name) {
    int lo = 0, hi = s->count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(s->t[mid].name, name);
        if (!c) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

const char *st_meta(const StSet *s, const char *key) {
    for (int i = 0; i < s->n_meta; i++)
        if (!strcmp(s->meta_key[i], key)) return s->meta_val[i];
    return NULL;
}

int st_read_f32(const StSet *s, int i, uint64_t first, uint64_t count, float *dst, char *err, size_t errlen) {
    const StTensor *t = &s->t[i];
    const StFile *f = &s->files[t->file];
    if (first + count > t->numel)
        return set_error(err, errlen, "%s: tensor %s: read of [%llu, %llu) past its %llu elements", f->path, t->name,
                       (unsigned long long)first, (unsigned long long)(first + count), (unsigned long long)t->numel);
    size_t es = st_dtype_size(t->dtype);
    uint64_t off = f->data_start + t->begin + first * es;
    if (t->dtype == ST_F32) {
        if (pread_all(f->fd, dst, (size_t)count * 4, off))
            return set_error(err, errlen, "%s: tensor %s: read failed (file changed or truncated?)", f->path, t->name);
        return 0;
    }
    enum { CHUNK = 1 << 20 };
    uint16_t *buf = mallocCheck(sizeof(uint16_t) * CHUNK);
    for (uint64_t done = 0; done < count;) {
        size_t m = count - done < CHUNK ? (size_t)(count - done) : CHUNK;
        if (pread_all(f->fd, buf, m * 2, off + done * 2)) {
            free(buf);
            return set_error(err, errlen, "%s: tensor %s: read failed (file changed or truncated?)", f->path, t->name);
        }
        if (t->dtype == ST_BF16)
            for (size_t k = 0; k < m; k++) dst[done + k] = st_bf16_to_f32(buf[k]);
        else
            for (size_t k = 0; k < m; k++) dst[done + k] = st_f16_to_f32(buf[k]);
        done += m;
    }
    free(buf);
    return 0;
}

/* ---- writer ---- */

struct StWriter {
    char *path;
    int fd;
    int n, next;
    StSpec *specs;
    uint64_t *numel;
};

void st_writer_abort(StWriter *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    unlink(w->path);
    free(w->path);
    free(w->specs);
    free(w->numel);
    free(w);
}

StWriter *st_writer_open(const char *path, const StSpec *specs, int n, const char *const *meta_keys,
                         const char *const *meta_vals, int n_meta, char *err, size_t errlen) {
    json_t *root = json_object();
    if (n_meta > 0) {
        json_t *m = json_object();
        for (int i = 0; i < n_meta; i++) json_object_set_new(m, meta_keys[i], json_string(meta_vals[i]));
        json_object_set_new(root, "__metadata__", m);
    }
    StWriter *w = callocCheck(1, sizeof *w);
    w->fd = -1;
    w->path = dup_str(path);
    w->n = n;
    w->specs = mallocCheck(sizeof(StSpec) * (size_t)(n ? n : 1));
    w->numel = mallocCheck(sizeof(uint64_t) * (size_t)(n ? n : 1));
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const StSpec *sp = &specs[i];
        w->specs[i] = *sp;
        json_t *shape = json_array();
        uint64_t numel = 1;
        for (int d = 0; d < sp->ndim; d++) {
            json_array_append_new(shape, json_integer(sp->shape[d]));
            numel *= (uint64_t)sp->shape[d];
        }
        w->numel[i] = numel;
        uint64_t end = off + numel * st_dtype_size(sp->dtype);
        json_t *o = json_object(), *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)end));
        json_object_set_new(o, "dtype", json_string(st_dtype_name(sp->dtype)));
        json_object_set_new(o, "shape", shape);
        json_object_set_new(o, "data_offsets", offs);
        if (json_object_get(root, sp->name)) {
            json_decref(o);
            json_decref(root);
            set_error(err, errlen, "%s: tensor %s given twice", path, sp->name);
            free(w->path);
            free(w->specs);
            free(w->numel);
            free(w);
            return NULL;
        }
        json_object_set_new(root, sp->name, o);
        off = end;
    }
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    CHECK(text, "out of memory");
    size_t len = strlen(text), padded = (len + 7) / 8 * 8; /* 8-byte aligned data, space padding */
    char *hdr = mallocCheck(8 + padded);
    uint64_t L = padded;
    for (int i = 0; i < 8; i++) hdr[i] = (char)(L >> (8 * i) & 0xFF);
    memcpy(hdr + 8, text, len);
    memset(hdr + 8 + len, ' ', padded - len);
    free(text);
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        set_error(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        free(hdr);
        free(w->path);
        free(w->specs);
        free(w->numel);
        free(w);
        return NULL;
    }
    if (write_all(w->fd, hdr, 8 + padded, NULL)) {
        set_error(err, errlen, "%s: write failed: %s", path, strerror(errno));
        free(hdr);
        st_writer_abort(w);
        return NULL;
    }
    free(hdr);
    return w;
}

int st_writer_put(StWriter *w, const float *data, char *err, size_t errlen) {
    CHECK(w->next < w->n, "st_writer_put: more tensors than specs");
    const StSpec *sp = &w->specs[w->next];
    uint64_t n = w->numel[w->next];
    int rc = 0;
    if (sp->dtype == ST_F32) {
        rc = write_all(w->fd, data, (size_t)n * 4, NULL);
    } else {
        enum { CHUNK = 1 << 20 };
        uint16_t *buf = mallocCheck(sizeof(uint16_t) * CHUNK);
        for (uint64_t done = 0; done < n && !rc; ) {
            size_t m = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
            if (sp->dtype == ST_BF16) {
                for (size_t k = 0; k < m; k++) buf[k] = st_f32_to_bf16(data[done + k]);
            } else {
                free(buf);
                return set_error(err, errlen, "%s: tensor %s: writing F16 is not supported", w->path, sp->name);
            }
            rc = write_all(w->fd, buf, m * 2, NULL);
            done += m;
        }
        free(buf);
    }
    if (rc) return set_error(err, errlen, "%s: tensor %s: write failed: %s", w->path, sp->name, strerror(errno));
    w->next++;
    return 0;
}

int st_writer_close(StWriter *w, char *err, size_t errlen) {
    int rc = 0;
    if (w->next != w->n) rc = set_error(err, errlen, "%s: %d of %d tensors written", w->path, w->next, w->n);
    else if (fsync(w->fd)) rc = set_error(err, errlen, "%s: fsync failed: %s", w->path, strerror(errno));
    if (!rc) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd)) rc = set_error(err, errlen, "%s: close failed: %s", w->path, strerror(errno));
    }
    if (rc) {
        st_writer_abort(w);
        return rc;
    }
    free(w->path);
    free(w->specs);
    free(w->numel);
    free(w);
    return 0;
}
