/* Token selection and generation: greedy generation equals the argmax of the full parallel
 * forward over prompt + generated tokens; top-k 1 is greedy; sampled frequencies follow the
 * softmax with temperature; top-k and top-p cut the support; stop tokens end a sequence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sampler.h"
#include "tests/expect.h"

static void test_distribution(void) {
    enum { V = 6, DRAWS = 60000 };
    const float logits[V] = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f};
    float scratch[V];
    int idx[V];
    const float temps[2] = {1.0f, 0.5f};
    for (int ti = 0; ti < 2; ti++) {
        SamplerParams p = {temps[ti], 0, 1.0f, 0};
        Rng r;
        rng_seed(&r, 1, (uint64_t)ti);
        int count[V] = {0};
        for (int i = 0; i < DRAWS; i++) count[sample_token(logits, V, &p, &r, scratch, idx)]++;
        double z = 0, worst = 0;
        for (int i = 0; i < V; i++) z += exp((double)logits[i] / (double)temps[ti]);
        for (int i = 0; i < V; i++) {
            double want = exp((double)logits[i] / (double)temps[ti]) / z, got = (double)count[i] / DRAWS;
            worst = fabs(want - got) > worst ? fabs(want - got) : worst;
        }
        printf("temperature %.1f: max |frequency - softmax| = %.4f over %d draws\n", (double)temps[ti], worst, DRAWS);
        EXPECT(worst < 0.01, "frequencies off by %.4f", worst);
    }
    /* top-k 2: only ids 1 and 4; top-p 0.5: the smallest set with half the mass (ids 1, 4) */
    SamplerParams pk = {1.0f, 2, 1.0f, 0}, pp = {1.0f, 0, 0.5f, 0};
    Rng r;
    rng_seed(&r, 2, 0);
    int okk = 1, okp = 1;
    for (int i = 0; i < 5000; i++) {
        int a = sample_token(logits, V, &pk, &r, scratch, idx), b = sample_token(logits, V, &pp, &r, scratch, idx);
        okk &= a == 1 || a == 4;
        okp &= b == 1 || b == 4;
    }
    EXPECT(okk, "top-k 2 drew outside the two best ids");
    EXPECT(okp, "top-p 0.5 drew outside the nucleus");
    SamplerParams greedy = {0.0f, 0, 1.0f, 0};
    EXPECT(sample_token(logits, V, &greedy, &r, scratch, idx) == 1, "greedy is not the argmax");
}

static void test_generation(Family fam) {
    GriffinConfig cfg = {0};
    cfg.family = fam;
    cfg.vocab_size = 40;
    cfg.width = 32;
    cfg.mlp_width = 48;
    cfg.num_heads = 2;
    cfg.depth = 3;
    cfg.window = 5;
    cfg.soft_cap = 30.0f;
    cfg.embed_scale = 1;
    enum { B = 2, MAXNEW = 16, MAXT = 32 };
    GriffinModel *m = griffin_create(&cfg, B, MAXT, 9);
    Rng r;
    rng_seed(&r, 4, 0);
    for (size_t i = 0; i < m->table.total; i++) m->params[i] += 0.3f * (float)rng_normal(&r);
    int p0[3] = {2, 7, 9}, p1[6] = {2, 5, 5, 11, 30, 1};
    const int *prompts[B] = {p0, p1};
    int lens[B] = {3, 6};
    DecodeState *s = decode_create(m, B);
    Generation g;
    generation_alloc(&g, B, MAXNEW, 0);
    SamplerParams greedy = {0.0f, 0, 1.0f, 0}, top1 = {1.0f, 1, 1.0f, 0};
    generate(m, s, prompts, lens, MAXNEW, &greedy, NULL, 0, 0, 0, &g);
    /* reference: the full forward over prompt + generated, argmax at the last position */
    int worst_mismatch = 0;
    for (int b = 0; b < B; b++) {
        int seq[MAXT], pos[MAXT], n = lens[b];
        memcpy(seq, prompts[b], sizeof(int) * (size_t)n);
        for (int k = 0; k < g.len[b]; k++) {
            for (int t = 0; t < n; t++) pos[t] = t;
            griffin_forward(m, seq, NULL, pos, NULL, 1, n);
            const float *lg = m->logits + (size_t)(n - 1) * cfg.vocab_size;
            int best = 0;
            for (int i = 1; i < cfg.vocab_size; i++)
                if (lg[i] > lg[best]) best = i;
            if (best != g.tokens[b * MAXNEW + k]) worst_mismatch++;
            seq[n++] = g.tokens[b * MAXNEW + k];
        }
        EXPECT(g.len[b] == MAXNEW && !g.stopped[b], "greedy stopped early");
    }
    printf("%-12s greedy generation of %d x %d tokens: %d mismatches with the full forward\n", family_name(fam), B,
           MAXNEW, worst_mismatch);
    EXPECT(worst_mismatch == 0, "greedy generation differs from the full forward");
    Generation g1;
    generation_alloc(&g1, B, MAXNEW, 0);
    generate(m, s, prompts, lens, MAXNEW, &top1, NULL, 0, 123, 0, &g1);
    EXPECT(!memcmp(g.tokens, g1.tokens, sizeof(int) * B * MAXNEW), "top-k 1 differs from greedy");
    /* stop: the 4th greedy token of sequence 0 as a stop id */
    int stop = g.tokens[3];
    int first = 0;
    while (g.tokens[first] != stop) first++;
    generate(m, s, prompts, lens, MAXNEW, &greedy, &stop, 1, 0, 0, &g1);
    EXPECT(g1.stopped[0] && g1.len[0] == first + 1, "stop token did not end sequence 0 at %d (len %d)", first + 1,
           g1.len[0]);
    generation_free(&g);
    generation_free(&g1);
    decode_free(s);
    griffin_free(m);
}

int main(void) {
    test_distribution();
    test_generation(FAMILY_GRIFFIN);
    test_generation(FAMILY_HAWK);
    test_generation(FAMILY_TRANSFORMER);
    printf("sampler: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
