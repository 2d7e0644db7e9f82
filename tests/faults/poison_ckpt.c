/* A checkpoint with one NaN weight, for the fault tests:
 *   poison_ckpt CONFIG.ini IN.h5 OUT_DIR
 * loads IN.h5 for the model of CONFIG.ini, sets one parameter (the middle of the flat buffer)
 * to NaN and saves the state as OUT_DIR/ckpt-<step>.h5 with valid checksums: the damage is
 * in the numbers, not the file, so only the training step can catch it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/params.h"
#include "train/ckpt/checkpoint.h"
#include "train/config/config.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: poison_ckpt CONFIG.ini IN.h5 OUT_DIR\n");
        return 2;
    }
    char err[2048], path[4096];
    TrainConfig *cfg = calloc(1, sizeof *cfg);
    if (train_config_load(cfg, argv[1], 0, NULL, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ParamTable pt;
    param_table_build(&pt, &cfg->griffin);
    float *p = calloc(pt.total, 4), *m = calloc(pt.total, 4), *v = calloc(pt.total, 4);
    CkptLoaded l;
    if (ckpt_load(argv[2], &pt, p, m, v, &l, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    p[pt.total / 2] = NAN;
    CkptState s = {.step = l.step, .stage = l.stage, .tokens = l.tokens, .pt = &pt, .params = p, .adam_m = m,
                   .adam_v = v, .rng = l.rng, .n_rng = l.n_rng, .cursors = l.cursors, .ranks = l.ranks,
                   .cursor_len = l.cursor_len, .config = l.config, .tokenizer = l.tokenizer,
                   .tokenizer_len = l.tokenizer_len};
    if (ckpt_save(argv[3], &s, 1, path, sizeof path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s\n", path);
    ckpt_loaded_free(&l);
    param_table_free(&pt);
    free(p);
    free(m);
    free(v);
    free(cfg);
    return 0;
}
