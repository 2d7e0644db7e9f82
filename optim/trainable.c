#include "optim/trainable.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"

/* Applies each comma-separated glob of `list` to the table: on[i] = value where it matches.
 * Returns 0, or -1 naming a pattern that matches nothing. */
static int apply(const ParamTable *pt, const char *key, const char *list, uint8_t *on, uint8_t value, char *err,
                 size_t errlen) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ' || *p == '\t') p++;
        char *e = p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (!*p) continue;
        int hits = 0;
        for (int i = 0; i < pt->count; i++)
            if (fnmatch(p, pt->t[i].name, 0) == 0) on[i] = value, hits++;
        if (!hits) {
            snprintf(err, errlen, "%s: pattern '%s' matches no tensor of the model (names as in `griffin inspect` of a "
                     "checkpoint, e.g. embedder.input_embedding, blocks.0.mlp_block.ffw_up.w)", key, p);
            return -1;
        }
    }
    return 0;
}

int trainable_build(TrainableSet *s, const ParamTable *pt, const char *freeze, const char *trainable, char *err,
                    size_t errlen) {
    memset(s, 0, sizeof *s);
    s->P = pt->total;
    s->count = pt->count;
    s->on = mallocCheck((size_t)pt->count);
    int only = trainable && trainable[0];
    memset(s->on, only ? 0 : 1, (size_t)pt->count);
    if ((only && apply(pt, "train.trainable", trainable, s->on, 1, err, errlen)) ||
        (freeze && apply(pt, "train.freeze", freeze, s->on, 0, err, errlen))) {
        trainable_free(s);
        return -1;
    }
    int count = 0;
    for (int i = 0; i < pt->count; i++) count += s->on[i];
    if (!count) {
        snprintf(err, errlen, "train.freeze / train.trainable: every tensor is frozen, nothing would train");
        trainable_free(s);
        return -1;
    }
    s->all = count == pt->count;
    ParamTable *mt = &s->mt;
    mt->count = count;
    mt->t = callocCheck((size_t)count, sizeof(TensorInfo));
    s->src = mallocCheck(sizeof(int) * (size_t)count);
    mt->embed = mt->final_norm = mt->reward_w = mt->reward_b = -1;
    for (int i = 0, k = 0; i < pt->count; i++) {
        if (!s->on[i]) continue;
        mt->t[k] = pt->t[i];
        mt->t[k].offset = mt->total;
        mt->total += pt->t[i].numel;
        s->src[k++] = i;
    }
    s->n = mt->total;
    return 0;
}

void trainable_free(TrainableSet *s) {
    param_table_free(&s->mt);
    free(s->src);
    free(s->on);
    memset(s, 0, sizeof *s);
}

void trainable_pack(const TrainableSet *s, const ParamTable *pt, float *packed, const float *flat) {
    for (int k = 0; k < s->mt.count; k++)
        memcpy(packed + s->mt.t[k].offset, flat + pt->t[s->src[k]].offset, s->mt.t[k].numel * sizeof(float));
}

void trainable_unpack(const TrainableSet *s, const ParamTable *pt, float *flat, const float *packed) {
    for (int k = 0; k < s->mt.count; k++)
        memcpy(flat + pt->t[s->src[k]].offset, packed + s->mt.t[k].offset, s->mt.t[k].numel * sizeof(float));
}

int trainable_frozen_tensors(const TrainableSet *s) {
    return s->count - s->mt.count;
}
