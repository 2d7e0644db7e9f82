/* Layout conversion between the parameter table and the official / HF checkpoint layouts
 * (names, shapes, transforms, reading a tensor set); see interop.h. */
#include "train/interop/interop.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/sys.h"

const char *layout_name(Layout l) { return l == LAYOUT_PEFT ? "peft" : l == LAYOUT_HF ? "hf" : "official"; }

/* ---- names ---- */

/* HF name suffix (after "model.layers.<i>.") of each slot; ffw_up is split separately */
static const char *hf_suffix(int slot) {
    switch (slot) {
    case P_TEMPORAL_NORM: return "temporal_pre_norm.weight";
    case P_LIN_Y_W: return "temporal_block.linear_y.weight";
    case P_LIN_Y_B: return "temporal_block.linear_y.bias";
    case P_LIN_X_W: return "temporal_block.linear_x.weight";
    case P_LIN_X_B: return "temporal_block.linear_x.bias";
    case P_LIN_OUT_W: return "temporal_block.linear_out.weight";
    case P_LIN_OUT_B: return "temporal_block.linear_out.bias";
    case P_CONV_W: return "temporal_block.conv_1d.weight";
    case P_CONV_B: return "temporal_block.conv_1d.bias";
    case P_A_PARAM: return "temporal_block.rg_lru.recurrent_param";
    case P_IGATE_W: return "temporal_block.rg_lru.input_gate_weight";
    case P_IGATE_B: return "temporal_block.rg_lru.input_gate_bias";
    case P_AGATE_W: return "temporal_block.rg_lru.recurrent_gate_weight";
    case P_AGATE_B: return "temporal_block.rg_lru.recurrent_gate_bias";
    case P_Q_W: return "temporal_block.q_proj.weight";
    case P_K_W: return "temporal_block.k_proj.weight";
    case P_V_W: return "temporal_block.v_proj.weight";
    case P_FINAL_W: return "temporal_block.o_proj.weight";
    case P_FINAL_B: return "temporal_block.o_proj.bias";
    case P_CHANNEL_NORM: return "channel_pre_norm.weight";
    case P_DOWN_W: return "mlp_block.down_proj.weight";
    case P_DOWN_B: return "mlp_block.down_proj.bias";
    default: return NULL;
    }
}

static void entry_from(LayoutEntry *e, const TensorInfo *t, int param) {
    memset(e, 0, sizeof *e);
    e->param = param;
    e->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) e->shape[d] = t->shape[d];
}

/* PEFT: every adapter tensor under its HF module's name (ffw_up's branches as gate_proj and up_proj) */
static int peft_layout(const ParamTable *pt, LayoutEntry *es) {
    int n = 0;
    for (int i = pt->lora_first; i < pt->count; i++) {
        const TensorInfo *t = &pt->t[i], *w = &pt->t[t->lora_of];
        int up = w->slot == P_UP_W;
        for (int c = 0; c < (up ? 2 : 1); c++) {
            LayoutEntry *e = &es[n++];
            entry_from(e, t, i);
            char module[48]; /* the longest, temporal_block.linear_out, has 26 characters */
            if (up) {
                snprintf(module, sizeof module, "mlp_block.%s", c ? "up_proj" : "gate_proj");
                e->xf = XF_HALF;
                e->part = c;
                e->ndim = 2;
                e->shape[0] = t->shape[1];
                e->shape[1] = t->shape[2];
            } else {
                const char *suf = hf_suffix(w->slot);
                snprintf(module, sizeof module, "%.*s", (int)strlen(suf) - 7, suf); /* without ".weight" */
            }
            snprintf(e->name, sizeof e->name, "base_model.model.model.layers.%d.%s.lora_%c.weight", t->layer, module,
                     t->lora_part);
        }
    }
    return n;
}

int interop_layout(const ParamTable *pt, Layout l, LayoutEntry **out) {
    LayoutEntry *es = callocCheck((size_t)pt->count * 2, sizeof(LayoutEntry));
    if (l == LAYOUT_PEFT) {
        *out = es;
        return peft_layout(pt, es);
    }
    int n = 0;
    for (int i = 0; i < pt->lora_first; i++) {
        const TensorInfo *t = &pt->t[i];
        LayoutEntry *e = &es[n++];
        entry_from(e, t, i);
        if (l == LAYOUT_OFFICIAL) {
            snprintf(e->name, sizeof e->name, "%s", t->name);
            continue;
        }
        if (i == pt->embed) {
            snprintf(e->name, sizeof e->name, "model.embed_tokens.weight");
        } else if (i == pt->final_norm) {
            snprintf(e->name, sizeof e->name, "model.final_norm.weight");
        } else if (t->slot == P_UP_W || t->slot == P_UP_B) {
            int F = t->slot == P_UP_W ? t->shape[2] : t->shape[3], D = t->shape[1];
            for (int c = 0; c < 2; c++) {
                if (c) {
                    e = &es[n++];
                    entry_from(e, t, i);
                }
                e->xf = t->slot == P_UP_W ? XF_UP_W : XF_UP_B;
                e->part = c;
                snprintf(e->name, sizeof e->name, "model.layers.%d.mlp_block.%s.%s", t->layer,
                         c ? "up_proj" : "gate_proj", t->slot == P_UP_W ? "weight" : "bias");
                if (t->slot == P_UP_W) {
                    e->ndim = 2;
                    e->shape[0] = F;
                    e->shape[1] = D;
                } else {
                    e->ndim = 1;
                    e->shape[0] = F;
                }
            }
        } else {
            const char *suf = hf_suffix(t->slot);
            CHECK(suf, "interop: no HF name for %s", t->name);
            snprintf(e->name, sizeof e->name, "model.layers.%d.%s", t->layer, suf);
            if (t->slot == P_CONV_W) { /* [K,L] -> [L,1,K] */
                e->xf = XF_CONV;
                e->ndim = 3;
                e->shape[0] = t->shape[1];
                e->shape[1] = 1;
                e->shape[2] = t->shape[0];
            }
        }
    }
    *out = es;
    return n;
}

size_t layout_entry_numel(const LayoutEntry *e) {
    size_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= (size_t)e->shape[d];
    return n;
}

void interop_export_tensor(const ParamTable *pt, const float *params, const LayoutEntry *e, float *dst) {
    const TensorInfo *t = &pt->t[e->param];
    const float *src = params + t->offset;
    switch (e->xf) {
    case XF_COPY: memcpy(dst, src, t->numel * sizeof(float)); break;
    case XF_CONV: { /* w [K,L] -> hf [L,1,K] */
        int K = t->shape[0], L = t->shape[1];
        for (int l = 0; l < L; l++)
            for (int j = 0; j < K; j++) dst[(size_t)l * K + j] = src[(size_t)j * L + l];
        break;
    }
    case XF_UP_W: { /* w [2,D,F] -> w[part]^T [F,D] */
        int D = t->shape[1], F = t->shape[2];
        const float *w = src + (size_t)e->part * D * F;
        for (int f = 0; f < F; f++)
            for (int d = 0; d < D; d++) dst[(size_t)f * D + d] = w[(size_t)d * F + f];
        break;
    }
    case XF_UP_B: { /* b [2,1,1,F] -> b[part,0,0] [F] */
        int F = t->shape[3];
        memcpy(dst, src + (size_t)e->part * F, sizeof(float) * (size_t)F);
        break;
    }
    case XF_HALF: memcpy(dst, src + (size_t)e->part * (t->numel / 2), sizeof(float) * (t->numel / 2)); break;
    }
}

void interop_import_tensor(const ParamTable *pt, float *params, const LayoutEntry *e, const float *src) {
    const TensorInfo *t = &pt->t[e->param];
    float *dst = params + t->offset;
    switch (e->xf) {
    case XF_COPY: memcpy(dst, src, t->numel * sizeof(float)); break;
    case XF_CONV: {
        int K = t->shape[0], L = t->shape[1];
        for (int l = 0; l < L; l++)
            for (int j = 0; j < K; j++) dst[(size_t)j * L + l] = src[(size_t)l * K + j];
        break;
    }
    case XF_UP_W: {
        int D = t->shape[1], F = t->shape[2];
        float *w = dst + (size_t)e->part * D * F;
        for (int f = 0; f < F; f++)
            for (int d = 0; d < D; d++) w[(size_t)d * F + f] = src[(size_t)f * D + d];
        break;
    }
    case XF_UP_B: {
        int F = t->shape[3];
        memcpy(dst + (size_t)e->part * F, src, sizeof(float) * (size_t)F);
        break;
    }
    case XF_HALF: memcpy(dst + (size_t)e->part * (t->numel / 2), src, sizeof(float) * (t->numel / 2)); break;
    }
}

/* ---- reading a tensor set ---- */

int interop_detect_layout(const StSet *s, Layout *l, char *err, size_t errlen) {
    int off = st_find(s, "embedder.input_embedding") >= 0, hf = st_find(s, "model.embed_tokens.weight") >= 0;
    if (off && hf) return set_error(err, errlen, "both embedder.input_embedding and model.embed_tokens.weight are present: mixed layouts");
    if (off) *l = LAYOUT_OFFICIAL;
    else if (hf) *l = LAYOUT_HF;
    else
        return set_error(err, errlen, "%s: neither embedder.input_embedding (official) nor model.embed_tokens.weight (HF) is present: not a RecurrentGemma checkpoint",
                       s->n_files ? s->files[0].path : "?");
    return 0;
}

static void shape_text(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

int interop_read_params(const StSet *s, const ParamTable *pt, Layout l, float *params, char *err, size_t errlen) {
    LayoutEntry *es;
    int n = interop_layout(pt, l, &es);
    char *used = callocCheck((size_t)(s->count ? s->count : 1), 1);
    float *tmp = NULL;
    size_t tmp_cap = 0;
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        const LayoutEntry *e = &es[k];
        int i = st_find(s, e->name);
        if (i < 0) {
            rc = set_error(err, errlen, "%s: missing tensor %s (%s layout, expected from the config's sizes and block types)",
                         s->path ? s->path : "?", e->name, layout_name(l));
            break;
        }
        used[i] = 1;
        const StTensor *t = &s->t[i];
        const char *file = s->files[t->file].path;
        int ok = t->ndim == e->ndim;
        int embed = e->param == pt->embed;
        for (int d = 0; ok && d < e->ndim; d++)
            ok = embed && d == 0 ? t->shape[0] >= e->shape[0] : t->shape[d] == e->shape[d];
        if (!ok) {
            char got[128], want[128];
            shape_text(t->ndim, t->shape, got, sizeof got);
            shape_text(e->ndim, e->shape, want, sizeof want);
            rc = set_error(err, errlen, "%s: tensor %s has shape %s, expected %s%s", file, e->name, got, want,
                         embed ? " (at least vocab_size rows)" : "");
            break;
        }
        size_t numel = layout_entry_numel(e);
        if (e->xf == XF_COPY) {
            /* the first numel elements: a larger embedding is sliced to its first V rows */
            rc = st_read_f32(s, i, 0, numel, params + pt->t[e->param].offset, err, errlen);
        } else {
            if (numel > tmp_cap) {
                free(tmp);
                tmp = mallocCheck(sizeof(float) * numel);
                tmp_cap = numel;
            }
            rc = st_read_f32(s, i, 0, numel, tmp, err, errlen);
            if (!rc) interop_import_tensor(pt, params, e, tmp);
        }
    }
    /* the tied head: accepted only if equal to the embedding */
    int head = l == LAYOUT_HF ? st_find(s, "lm_head.weight") : -1;
    if (!rc && head >= 0) {
        used[head] = 1;
        const StTensor *t = &s->t[head];
        const TensorInfo *emb = &pt->t[pt->embed];
        if (t->ndim != 2 || t->shape[0] < emb->shape[0] || t->shape[1] != emb->shape[1]) {
            rc = set_error(err, errlen, "%s: tensor lm_head.weight has a shape other than the embedding's", s->files[t->file].path);
        } else {
            tmp = realloc(tmp, sizeof(float) * emb->numel);
            CHECK(tmp, "out of memory");
            rc = st_read_f32(s, head, 0, emb->numel, tmp, err, errlen);
            if (!rc && memcmp(tmp, params + emb->offset, sizeof(float) * emb->numel))
                rc = set_error(err, errlen, "%s: lm_head.weight differs from model.embed_tokens.weight: untied output heads are not supported (the model ties them)",
                             s->files[t->file].path);
        }
    }
    /* derived RoPE buffers some HF exports carry: accepted if they hold the expected values
     * (inv_freq[k] = 10000^(-2k/R), R = head_dim / 2 rotated dims) */
    for (int i = 0; i < s->count && !rc && l == LAYOUT_HF; i++) {
        int layer = -1, end = 0;
        const StTensor *t = &s->t[i];
        if (used[i] || sscanf(t->name, "model.layers.%d.temporal_block.rotary_emb.inv_freq%n", &layer, &end) != 1 ||
            t->name[end] || layer < 0)
            continue;
        int kw = -1;
        for (int k = 0; k < pt->count && kw < 0; k++)
            if (pt->t[k].layer == layer && pt->t[k].slot == P_K_W) kw = k;
        if (kw < 0) continue; /* not an attention layer: left for the unknown-tensor check */
        int R = pt->t[kw].shape[0] / 2, nf = R / 2; /* proj_k [hd, D] */
        if (t->ndim != 1 || t->shape[0] != nf) {
            rc = set_error(err, errlen, "%s: tensor %s has %lld entries, expected %d", s->files[t->file].path, t->name,
                         (long long)(t->ndim == 1 ? t->shape[0] : -1), nf);
            break;
        }
        float *f = mallocCheck(sizeof(float) * (size_t)(nf ? nf : 1));
        rc = st_read_f32(s, i, 0, (uint64_t)nf, f, err, errlen);
        for (int k = 0; k < nf && !rc; k++) {
            double want = 1.0 / pow(10000.0, 2.0 * k / R);
            if (fabs((double)f[k] - want) > 1e-5 * want)
                rc = set_error(err, errlen, "%s: tensor %s[%d] = %g, expected the RoPE frequency %g (base 10000)",
                             s->files[t->file].path, t->name, k, (double)f[k], want);
        }
        free(f);
        used[i] = 1;
    }
    for (int i = 0; i < s->count && !rc; i++)
        if (!used[i])
            rc = set_error(err, errlen, "%s: unknown tensor %s (not part of this %s-layout model; check config.json's sizes and block types)",
                         s->files[s->t[i].file].path, s->t[i].name, layout_name(l));
    free(tmp);
    free(used);
    free(es);
    return rc;
}
