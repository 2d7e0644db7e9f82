/* Mixture sampler and packer (see mixture.h). */
#include "data/mixture.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/rng.h"

void batch_alloc(Batch *b, int B, int T) {
    b->B = B;
    b->T = T;
    size_t n = (size_t)B * T;
    b->tokens = mallocCheck(n * sizeof(int));
    b->targets = mallocCheck(n * sizeof(int));
    b->pos = mallocCheck(n * sizeof(int));
    b->mask = mallocCheck(n);
    b->ntargets = 0;
}

void batch_free(Batch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->pos);
    free(b->mask);
    memset(b, 0, sizeof *b);
}

void mixture_init(Mixture *m, Corpus *const *corpora, int n, uint64_t seed, int shuffle, PackMode mode,
                  int B, int T, int rank, int world) {
    CHECK(n > 0 && n <= MIXTURE_MAX_CORPORA, "mixture: %d corpora (1..%d)", n, MIXTURE_MAX_CORPORA);
    CHECK(B > 0 && T > 0 && world > 0 && rank >= 0 && rank < world, "mixture: bad batch or rank");
    memset(m, 0, sizeof *m);
    m->n = n;
    for (int i = 0; i < n; i++) {
        CHECK(corpus_num_docs(corpora[i]) > 0, "mixture: corpus %d has no documents", i);
        m->corpora[i] = corpora[i];
        m->weight[i] = 1.0;
        m->perm_epoch[i] = UINT64_MAX;
    }
    m->seed = seed;
    m->shuffle = shuffle;
    m->mode = mode;
    m->B = B;
    m->T = T;
    m->rank = rank;
    m->world = world;
    m->doc_corpus = -1;
    for (int i = 0; i < n; i++) m->masked[i] = corpus_kind(corpora[i]) == CORPUS_CHAT;
    m->row_tokens = mallocCheck(((size_t)T + 1) * sizeof(uint32_t));
    m->row_mask = mallocCheck((size_t)T + 1);
    m->row_pos = mallocCheck(((size_t)T + 1) * sizeof(int));
}

void mixture_free(Mixture *m) {
    for (int i = 0; i < m->n; i++) free(m->perm[i]);
    free(m->row_tokens);
    free(m->row_mask);
    free(m->row_pos);
    memset(m, 0, sizeof *m);
}

void mixture_set_weights(Mixture *m, const double *weights) {
    int any = 0;
    for (int i = 0; i < m->n; i++) {
        CHECK(weights[i] >= 0.0, "mixture: negative weight for corpus %d", i);
        any |= weights[i] > 0.0;
        m->weight[i] = weights[i];
        m->cur[i].taken = 0;
    }
    CHECK(any, "mixture: every weight is 0");
    /* whole-document packing: a pending document of a corpus the stage does not use is dropped */
    if (m->doc_corpus >= 0 && m->weight[m->doc_corpus] <= 0.0) {
        m->cur[m->doc_corpus].open = 0;
        m->doc_corpus = -1;
    }
}

/* document index at position `index` of corpus c's permutation for `epoch` */
static uint64_t perm_doc(Mixture *m, int c, uint64_t epoch, uint64_t index) {
    uint64_t nd = corpus_num_docs(m->corpora[c]);
    if (!m->shuffle) return index;
    if (m->perm_epoch[c] != epoch) {
        if (!m->perm[c]) m->perm[c] = mallocCheck(nd * sizeof(uint64_t));
        uint64_t *p = m->perm[c];
        for (uint64_t i = 0; i < nd; i++) p[i] = i;
        Rng r;
        rng_seed(&r, m->seed, 0x5EED0000ull + (uint64_t)c * 1000003ull + epoch);
        for (uint64_t i = nd - 1; i > 0; i--) { /* Fisher-Yates */
            uint64_t j = rng_below(&r, i + 1);
            uint64_t t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        m->perm_epoch[c] = epoch;
    }
    return m->perm[c][index];
}

/* the corpus with the smallest taken/weight (ties: lower index) */
static int pick_corpus(const Mixture *m) {
    int best = -1;
    double best_ratio = 0.0;
    for (int i = 0; i < m->n; i++) {
        if (m->weight[i] <= 0.0) continue;
        double ratio = (double)m->cur[i].taken / m->weight[i];
        if (best < 0 || ratio < best_ratio) {
            best = i;
            best_ratio = ratio;
        }
    }
    return best;
}

/* opens corpus c's next document (PACK_WHOLE: also makes c the current corpus) */
static void open_next_doc(Mixture *m, int c) {
    CorpusCursor *cc = &m->cur[c];
    uint64_t nd = corpus_num_docs(m->corpora[c]);
    if (cc->index >= nd) {
        cc->epoch++;
        cc->index = 0;
    }
    cc->doc = perm_doc(m, c, cc->epoch, cc->index);
    cc->index++;
    cc->offset = 0;
    cc->open = 1;
}

/* Next token position of corpus c's stream: opens documents until one has a token left. */
static size_t stream_doc_left(Mixture *m, int c) {
    CorpusCursor *cc = &m->cur[c];
    if (!cc->open) open_next_doc(m, c);
    size_t n = corpus_doc_len(m->corpora[c], 0, cc->doc);
    while (cc->offset >= n) { /* empty or finished document */
        open_next_doc(m, c);
        n = corpus_doc_len(m->corpora[c], 0, cc->doc);
    }
    return n - (size_t)cc->offset;
}

/* One row of T inputs (+ targets), all from corpus c's stream of documents; returns the
 * unmasked targets. The row's last target stays unconsumed: it is the first input of the
 * corpus's next row. The T+1 tokens are gathered first (a read of each document's span, or
 * none on another rank's row: only lengths are needed to advance), then laid out. */
static uint64_t fill_row_stream(Mixture *m, int c, int *tok, int *tgt, int *pos, uint8_t *mask, int write) {
    int T = m->T;
    CorpusCursor *cc = &m->cur[c];
    uint32_t *s = m->row_tokens;
    uint8_t *sm = m->row_mask;
    for (int i = 0; i <= T;) {
        size_t left = stream_doc_left(m, c), span = left < (size_t)(T + 1 - i) ? left : (size_t)(T + 1 - i);
        if (write) {
            corpus_read(m->corpora[c], 0, cc->doc, (size_t)cc->offset, span, s + i, sm + i);
            if (!m->masked[c]) memset(sm + i, 1, span);
            for (size_t k = 0; k < span; k++) m->row_pos[i + k] = (int)(cc->offset + k);
        }
        size_t used = i + (int)span <= T ? span : span - 1; /* position T is not consumed */
        cc->offset += used;
        cc->taken += used;
        m->tokens_seen[c] += used;
        i += (int)span;
    }
    if (!write) return 0;
    uint64_t count = 0;
    for (int i = 0; i < T; i++) {
        tok[i] = (int)s[i];
        pos[i] = m->row_pos[i];
        tgt[i] = (int)s[i + 1];
        mask[i] = (m->row_pos[i + 1] != 0) && sm[i + 1];
        count += mask[i];
    }
    return count;
}

/* Whole documents; the corpus is chosen per document. */
static uint64_t fill_row_whole(Mixture *m, int *tok, int *tgt, int *pos, uint8_t *mask, int write) {
    int T = m->T, used = 0;
    uint64_t count = 0;
    while (used < T) {
        if (m->doc_corpus < 0) {
            m->doc_corpus = pick_corpus(m);
            open_next_doc(m, m->doc_corpus);
        }
        CorpusCursor *cc = &m->cur[m->doc_corpus];
        size_t n = corpus_doc_len(m->corpora[m->doc_corpus], 0, cc->doc);
        if (n < 2) { /* nothing to learn from */
            m->doc_corpus = -1;
            continue;
        }
        size_t len = n;
        if (len > (size_t)T + 1) {
            if (used > 0) break; /* give it a row of its own */
            len = (size_t)T + 1;
            m->truncated++;
        }
        /* a document of len tokens occupies len-1 input slots (its last token is a target) */
        if (used + (int)len - 1 > T) break;
        if (write) {
            uint32_t *s = m->row_tokens;
            uint8_t *sm = m->row_mask;
            corpus_read(m->corpora[m->doc_corpus], 0, cc->doc, 0, len, s, sm);
            int masked = m->masked[m->doc_corpus];
            for (size_t j = 0; j + 1 < len; j++) {
                tok[used + j] = (int)s[j];
                pos[used + j] = (int)j;
                tgt[used + j] = (int)s[j + 1];
                mask[used + j] = masked ? sm[j + 1] : 1;
                count += mask[used + j];
            }
        }
        used += (int)len - 1;
        cc->taken += len;
        m->tokens_seen[m->doc_corpus] += len;
        cc->open = 0;
        m->doc_corpus = -1;
    }
    for (int i = used; i < T && write; i++) { /* padding: its own segment, no loss */
        tok[i] = 0;
        tgt[i] = 0;
        pos[i] = i - used;
        mask[i] = 0;
    }
    return count;
}

void mixture_next_batch(Mixture *m, Batch *out) {
    CHECK(out->B == m->B && out->T == m->T, "mixture: batch shape mismatch");
    out->ntargets = 0;
    int T = m->T;
    for (int g = 0; g < m->world * m->B; g++) {
        int mine = g / m->B == m->rank;
        int r = g % m->B;
        int *tok = out->tokens + (size_t)r * T, *tgt = out->targets + (size_t)r * T, *pos = out->pos + (size_t)r * T;
        uint8_t *mask = out->mask + (size_t)r * T;
        if (m->mode == PACK_STREAM)
            out->ntargets += fill_row_stream(m, pick_corpus(m), tok, tgt, pos, mask, mine) * (uint64_t)mine;
        else out->ntargets += fill_row_whole(m, tok, tgt, pos, mask, mine) * (uint64_t)mine;
        m->rows++;
    }
}

/* layout: [n, doc_corpus+1, rows, truncated, then per corpus:
 *          epoch, index, open, doc, offset, taken, tokens_seen] */
#define HEAD 4
#define PER 7
size_t mixture_state_len(int n) { return HEAD + PER * (size_t)n; }

void mixture_get_state(const Mixture *m, uint64_t *s) {
    s[0] = (uint64_t)m->n;
    s[1] = (uint64_t)(m->doc_corpus + 1);
    s[2] = m->rows;
    s[3] = m->truncated;
    for (int i = 0; i < m->n; i++) {
        uint64_t *p = s + HEAD + PER * i;
        const CorpusCursor *cc = &m->cur[i];
        p[0] = cc->epoch;
        p[1] = cc->index;
        p[2] = (uint64_t)cc->open;
        p[3] = cc->doc;
        p[4] = cc->offset;
        p[5] = cc->taken;
        p[6] = m->tokens_seen[i];
    }
}

void mixture_set_state(Mixture *m, const uint64_t *s, size_t len) {
    CHECK(len == mixture_state_len(m->n) && s[0] == (uint64_t)m->n,
          "data cursor in the checkpoint is for %llu corpora, this run has %d",
          (unsigned long long)(len ? s[0] : 0), m->n);
    CHECK(s[1] <= (uint64_t)m->n, "data cursor: bad open corpus %llu", (unsigned long long)s[1]);
    m->doc_corpus = (int)s[1] - 1;
    m->rows = s[2];
    m->truncated = s[3];
    for (int i = 0; i < m->n; i++) {
        const uint64_t *p = s + HEAD + PER * i;
        CorpusCursor *cc = &m->cur[i];
        uint64_t nd = corpus_num_docs(m->corpora[i]);
        cc->epoch = p[0];
        cc->index = p[1];
        cc->open = (int)p[2];
        cc->doc = p[3];
        cc->offset = p[4];
        cc->taken = p[5];
        m->tokens_seen[i] = p[6];
        CHECK(cc->index <= nd && (!cc->open || cc->doc < nd), "data cursor: corpus %d position out of range", i);
    }
}
