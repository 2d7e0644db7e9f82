/* Token selection and batched generation (see sampler.h; reference: recurrentgemma torch
 * sampler.Sampler, which left-pads prompts with position −1 (pitfall 22), prefills, and
 * decodes one token per step; we add temperature, top-k, top-p and stopping at
 * <end_of_turn> as well as <eos>). */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "vmath.h"

/* a before b: larger probability first, ties by lower id (deterministic) */
static int before(int a, int b, const float *p) { return p[a] > p[b] || (p[a] == p[b] && a < b); }

/* stable merge sort of ids by probability (qsort has no context argument in C17) */
static void sort_idx(int *idx, int *tmp, int n, const float *p) {
    if (n < 2) return;
    int h = n / 2;
    sort_idx(idx, tmp, h, p);
    sort_idx(idx + h, tmp, n - h, p);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = before(idx[j], idx[i], p) ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, sizeof(int) * (size_t)n);
}

int sample_token(const float *logits, int V, const SamplerParams *p, Rng *rng, float *scratch, int *idx) {
    if (p->vocab_limit > 0 && p->vocab_limit < V) V = p->vocab_limit;
    if (p->temperature <= 0.0f) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        scratch[i] = expf((logits[i] - mx) / p->temperature);
        sum += (double)scratch[i];
    }
    int n = V;
    int restrict_set = (p->top_k > 0 && p->top_k < V) || (p->top_p > 0.0f && p->top_p < 1.0f);
    if (restrict_set) {
        for (int i = 0; i < V; i++) idx[i] = i;
        int *tmp = mallocCheck(sizeof(int) * (size_t)V);
        sort_idx(idx, tmp, V, scratch);
        free(tmp);
        if (p->top_k > 0 && p->top_k < n) n = p->top_k;
        if (p->top_p > 0.0f && p->top_p < 1.0f) {
            double total = 0.0, acc = 0.0;
            for (int i = 0; i < n; i++) total += (double)scratch[idx[i]];
            int keep = 0;
            while (keep < n) {
                acc += (double)scratch[idx[keep++]];
                if (acc >= (double)p->top_p * total) break;
            }
            n = keep;
        }
        sum = 0.0;
        for (int i = 0; i < n; i++) sum += (double)scratch[idx[i]];
    }
    double u = rng_uniform(rng) * sum, acc = 0.0;
    for (int i = 0; i < n; i++) {
        int id = restrict_set ? idx[i] : i;
        acc += (double)scratch[id];
        if (u < acc) return id;
    }
    return restrict_set ? idx[n - 1] : V - 1;
}

void generation_alloc(Generation *g, int B, int max_new, int with_logp) {
    size_t n = (size_t)B * (size_t)(max_new > 0 ? max_new : 1);
    g->B = B;
    g->max_new = max_new;
    g->tokens = callocCheck(n, sizeof(int));
    g->len = callocCheck((size_t)B, sizeof(int));
    g->stopped = callocCheck((size_t)B, sizeof(int));
    g->last = callocCheck((size_t)B, sizeof(int));
    g->logp = with_logp ? callocCheck(n, sizeof(float)) : NULL;
}

void generation_free(Generation *g) {
    free(g->tokens);
    free(g->len);
    free(g->stopped);
    free(g->last);
    free(g->logp);
    memset(g, 0, sizeof *g);
}

const float *prefill_prompts(GriffinModel *m, DecodeState *s, const int *const *prompts, const int *prompt_len) {
    int B = s->B, P = 0;
    for (int b = 0; b < B; b++) {
        CHECK(prompt_len[b] > 0, "generate: empty prompt %d", b);
        P = prompt_len[b] > P ? prompt_len[b] : P;
    }
    /* left-pad to P: pads get position -1 and token 0 (invisible, pitfall 22) */
    int *tok = mallocCheck(sizeof(int) * (size_t)B * P), *pos = mallocCheck(sizeof(int) * (size_t)B * P);
    for (int b = 0; b < B; b++) {
        int pad = P - prompt_len[b];
        for (int t = 0; t < P; t++) {
            tok[b * P + t] = t < pad ? 0 : prompts[b][t - pad];
            pos[b * P + t] = t < pad ? -1 : t - pad;
        }
    }
    const float *logits = decode_prefill(s, m, tok, pos, P);
    free(tok);
    free(pos);
    return logits;
}

/* sequence b's next token from its logits row, recorded in g; 1 while it has not stopped */
static int draw(Generation *g, int b, int step, const float *row, int V, const SamplerParams *p, Rng *rng,
                float *scratch, int *idx, const int *stop_ids, int n_stop) {
    int t = sample_token(row, V, p, rng, scratch, idx);
    size_t x = (size_t)b * g->max_new + step;
    g->tokens[x] = t;
    if (g->logp) g->logp[x] = row[t] - vm_logsumexp(row, (size_t)V);
    g->len[b] = step + 1;
    g->last[b] = t;
    for (int k = 0; k < n_stop; k++) g->stopped[b] |= t == stop_ids[k];
    return !g->stopped[b];
}

void generate_from(DecodeState *s, const float *logits, int max_new, const SamplerParams *p, const int *stop_ids,
                   int n_stop, uint64_t seed, const uint64_t *streams, Generation *g) {
    int B = s->B, V = s->m->cfg.vocab_size;
    CHECK(g->B >= B && g->max_new >= max_new, "generate: output buffers too small");
    Rng *rngs = mallocCheck(sizeof(Rng) * (size_t)B);
    for (int b = 0; b < B; b++) {
        rng_seed(&rngs[b], seed, streams[b]);
        g->len[b] = 0;
        g->stopped[b] = 0;
        g->last[b] = -1;
    }
    float *scratch = mallocCheck(sizeof(float) * (size_t)V);
    int *idx = mallocCheck(sizeof(int) * (size_t)V), *next = mallocCheck(sizeof(int) * (size_t)B);
    for (int step = 0; step < max_new; step++) {
        int active = 0;
        for (int b = 0; b < B; b++) {
            next[b] = 0;
            if (g->stopped[b]) continue;
            active += draw(g, b, step, logits + (size_t)b * V, V, p, &rngs[b], scratch, idx, stop_ids, n_stop);
            next[b] = g->tokens[(size_t)b * g->max_new + step];
        }
        if (!active || step + 1 == max_new) break;
        logits = decode_step(s, next);
    }
    free(rngs);
    free(scratch);
    free(idx);
    free(next);
}

void generate(GriffinModel *m, DecodeState *s, const int *const *prompts, const int *prompt_len, int max_new,
              const SamplerParams *p, const int *stop_ids, int n_stop, uint64_t seed, uint64_t first_stream,
              Generation *g) {
    CHECK(g->B == s->B, "generate: output buffers too small");
    const float *logits = prefill_prompts(m, s, prompts, prompt_len);
    uint64_t *streams = mallocCheck(sizeof(uint64_t) * (size_t)s->B);
    for (int b = 0; b < s->B; b++) streams[b] = first_stream + (uint64_t)b;
    generate_from(s, logits, max_new, p, stop_ids, n_stop, seed, streams, g);
    free(streams);
}
