/* Mixture sampler and packer: every token exactly once and in order, targets and positions
 * right, token shares follow the weights, the same seed gives the same rows, ranks split the
 * global batch, a restored cursor continues identically, whole-document packing never splits
 * a document, and chat masks reach the targets. Corpora are written with the real HDF5
 * writer; token ids encode (corpus, document, offset) so every row can be decoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "data/mixture.h"
#include "tests/expect.h"

#define VOCAB 4000000
static uint32_t id_of(int c, int d, int o) { return (uint32_t)(c * 1000000 + d * 1000 + o + 1); }

/* corpus c: ndocs documents of lengths 2 + (d*7 % maxlen); chat: mask on odd offsets */
static Corpus *make_corpus(const char *dir, int c, int ndocs, int maxlen, int chat) {
    char path[512];
    snprintf(path, sizeof path, "%s/mix%d.h5", dir, c);
    CorpusWriter *w = corpus_writer_open(path, chat ? CORPUS_CHAT : CORPUS_TEXT, VOCAB, 1234);
    uint32_t tok[1000];
    uint8_t mask[1000];
    for (int d = 0; d < ndocs; d++) {
        int len = 2 + (d * 7) % maxlen;
        for (int o = 0; o < len; o++) {
            tok[o] = id_of(c, d, o);
            mask[o] = (uint8_t)(o % 2);
        }
        corpus_writer_add(w, 0, tok, chat ? mask : NULL, (size_t)len, (uint64_t)len);
    }
    corpus_writer_close(w);
    return corpus_open(path, CORPUS_ANY);
}

static void decode_id(int t, int *c, int *d, int *o) {
    t -= 1;
    *c = t / 1000000;
    *d = (t / 1000) % 1000;
    *o = t % 1000;
}

int main(void) {
    const char *dir = getenv("GRIFFIN_TEST_DIR") ? getenv("GRIFFIN_TEST_DIR") : ".";
    Corpus *cs[3];
    cs[0] = make_corpus(dir, 0, 50, 30, 0);
    cs[1] = make_corpus(dir, 1, 80, 12, 0);
    cs[2] = make_corpus(dir, 2, 20, 40, 1);
    enum { B = 4, T = 16 };

    /* 1. stream packing over two corpora: order, targets, positions, masks, shares */
    {
        Mixture m;
        mixture_init(&m, cs, 2, 7, 1, PACK_STREAM, B, T, 0, 1);
        double w[2] = {3.0, 1.0};
        mixture_set_weights(&m, w);
        Batch b;
        batch_alloc(&b, B, T);
        int last_d[2] = {-1, -1}, last_o[2] = {-1, -1};
        uint64_t per[2] = {0, 0};
        for (int step = 0; step < 200; step++) {
            mixture_next_batch(&m, &b);
            for (int r = 0; r < B; r++) {
                for (int t = 0; t < T; t++) {
                    int i = r * T + t, c, d, o;
                    decode_id(b.tokens[i], &c, &d, &o);
                    per[c]++;
                    EXPECT(b.pos[i] == o, "position %d != offset %d", b.pos[i], o);
                    /* each corpus's tokens come in order, documents whole, rows from one corpus */
                    if (last_d[c] >= 0) {
                        int cont = d == last_d[c] && o == last_o[c] + 1;
                        EXPECT(cont || o == 0, "token (%d,%d,%d) after (%d,%d,%d): gap", c, d, o, c, last_d[c], last_o[c]);
                    }
                    if (t > 0) EXPECT(c == b.tokens[i - 1] / 1000000, "row %d mixes corpora", r);
                    last_d[c] = d, last_o[c] = o;
                    int tc, td, to;
                    decode_id(b.targets[i], &tc, &td, &to);
                    int same_doc = tc == c && td == d && to == o + 1;
                    EXPECT(same_doc || to == 0, "target of (%d,%d,%d) is (%d,%d,%d)", c, d, o, tc, td, to);
                    EXPECT(b.mask[i] == same_doc, "mask %d at a %s target", b.mask[i], same_doc ? "same-doc" : "new-doc");
                }
            }
        }
        double share = (double)per[0] / (double)(per[0] + per[1]);
        printf("stream: %llu + %llu tokens, share of corpus 0 = %.4f (weight 0.75)\n", (unsigned long long)per[0],
               (unsigned long long)per[1], share);
        EXPECT(share > 0.74 && share < 0.76, "token share %.4f", share);

        /* 2. resume: save the cursor, run 5 batches; restore into a fresh mixture, same rows */
        uint64_t st[64];
        mixture_get_state(&m, st);
        Batch a[5];
        for (int k = 0; k < 5; k++) {
            batch_alloc(&a[k], B, T);
            mixture_next_batch(&m, &a[k]);
        }
        Mixture m2;
        mixture_init(&m2, cs, 2, 7, 1, PACK_STREAM, B, T, 0, 1);
        mixture_set_weights(&m2, w);
        mixture_set_state(&m2, st, mixture_state_len(2));
        for (int k = 0; k < 5; k++) {
            mixture_next_batch(&m2, &b);
            EXPECT(!memcmp(a[k].tokens, b.tokens, sizeof(int) * B * T) && !memcmp(a[k].pos, b.pos, sizeof(int) * B * T) &&
                       !memcmp(a[k].targets, b.targets, sizeof(int) * B * T) && !memcmp(a[k].mask, b.mask, B * T),
                   "resumed batch %d differs", k);
            batch_free(&a[k]);
        }
        mixture_free(&m2);
        mixture_free(&m);
        batch_free(&b);
    }
    /* 3. determinism and seeds; 4. two ranks split the global batch of one rank */
    {
        Mixture one, r0, r1, other;
        mixture_init(&one, cs, 2, 9, 1, PACK_STREAM, 2 * B, T, 0, 1);
        mixture_init(&r0, cs, 2, 9, 1, PACK_STREAM, B, T, 0, 2);
        mixture_init(&r1, cs, 2, 9, 1, PACK_STREAM, B, T, 1, 2);
        mixture_init(&other, cs, 2, 10, 1, PACK_STREAM, 2 * B, T, 0, 1);
        Batch g, b0, b1, bo;
        batch_alloc(&g, 2 * B, T);
        batch_alloc(&b0, B, T);
        batch_alloc(&b1, B, T);
        batch_alloc(&bo, 2 * B, T);
        int differs = 0;
        for (int k = 0; k < 10; k++) {
            mixture_next_batch(&one, &g);
            mixture_next_batch(&r0, &b0);
            mixture_next_batch(&r1, &b1);
            mixture_next_batch(&other, &bo);
            EXPECT(!memcmp(g.tokens, b0.tokens, sizeof(int) * B * T) &&
                       !memcmp(g.tokens + B * T, b1.tokens, sizeof(int) * B * T) &&
                       g.ntargets == b0.ntargets + b1.ntargets,
                   "ranks do not split the global batch at step %d", k);
            differs |= memcmp(g.tokens, bo.tokens, sizeof(int) * 2 * B * T) != 0;
        }
        EXPECT(differs, "another seed gives the same rows");
        printf("ranks: 2 ranks x %d rows = 1 rank x %d rows; seeds change the order: %s\n", B, 2 * B, differs ? "yes" : "no");
        mixture_free(&one);
        mixture_free(&r0);
        mixture_free(&r1);
        mixture_free(&other);
        batch_free(&g);
        batch_free(&b0);
        batch_free(&b1);
        batch_free(&bo);
    }
    /* 5. whole documents with chat masks: never split, padding masked, long ones truncated */
    {
        Mixture m;
        mixture_init(&m, &cs[2], 1, 3, 1, PACK_WHOLE, B, T, 0, 1);
        Batch b;
        batch_alloc(&b, B, T);
        for (int k = 0; k < 20; k++) {
            mixture_next_batch(&m, &b);
            for (int r = 0; r < B; r++) {
                for (int t = 0; t < T; t++) {
                    int i = r * T + t;
                    if (b.tokens[i] == 0) { /* padding */
                        EXPECT(b.mask[i] == 0, "padding with mask 1");
                        continue;
                    }
                    int c, d, o, tc, td, to;
                    decode_id(b.tokens[i], &c, &d, &o);
                    decode_id(b.targets[i], &tc, &td, &to);
                    EXPECT(t > 0 || o == 0, "row starts mid-document (offset %d)", o);
                    EXPECT(b.pos[i] == o && tc == c && td == d && to == o + 1, "whole-doc target wrong");
                    EXPECT(b.mask[i] == (uint8_t)(to % 2), "chat mask %d for target offset %d", b.mask[i], to);
                }
            }
        }
        printf("whole: 20 batches, %llu documents truncated at T+1\n", (unsigned long long)m.truncated);
        EXPECT(m.truncated > 0, "no long document was truncated (test data has some)");
        mixture_free(&m);
        batch_free(&b);
    }
    for (int i = 0; i < 3; i++) corpus_close(cs[i]);
    printf("mixture: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
