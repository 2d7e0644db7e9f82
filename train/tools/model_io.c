#include "train/tools/model_io.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "train/ckpt/checkpoint.h"

void load_model(const char *path, int max_B, int max_T, LoadedModel *out) {
    char err[2048];
    memset(out, 0, sizeof *out);
    CkptLoaded ld;
    int rc = ckpt_load(path, NULL, NULL, NULL, NULL, &ld, err, sizeof err);
    REQUIRE(rc == CKPT_OK, "checkpoint %s: %s", path, err);
    REQUIRE(ld.config && ld.config[0], "checkpoint %s stores no config; it was not written by griffin", path);
    out->cfg = callocCheck(1, sizeof(TrainConfig));
    rc = train_config_parse_string(out->cfg, ld.config, path, NULL, 0, NULL, err, sizeof err);
    REQUIRE(rc == 0, "checkpoint %s: its stored config does not parse: %s", path, err);
    out->m = griffin_create(&out->cfg->griffin, max_B, max_T, 0);
    rc = ckpt_load_weights(path, &out->m->table, out->m->params, err, sizeof err);
    REQUIRE(rc == CKPT_OK, "checkpoint %s: %s", path, err);
    if (ld.tokenizer_len > 0) {
        out->tok = tokenizer_load_from_memory(ld.tokenizer, ld.tokenizer_len, path);
        REQUIRE(tokenizer_vocab_size(out->tok) <= out->m->cfg.vocab_size,
              "checkpoint %s: its tokenizer has %d pieces, more than the model's vocabulary %d", path,
              tokenizer_vocab_size(out->tok), out->m->cfg.vocab_size);
    }
    out->step = ld.step;
    ckpt_loaded_free(&ld);
}

void loaded_model_free(LoadedModel *lm) {
    griffin_free(lm->m);
    if (lm->tok) tokenizer_free(lm->tok);
    free(lm->cfg);
    memset(lm, 0, sizeof *lm);
}

GriffinModel *load_frozen(const char *path, int B, int T, const GriffinConfig *want, const Tokenizer *tok,
                          const char *what, int flags) {
    LoadedModel lm;
    load_model(path, 1, 1, &lm);
    if (lm.tok)
        REQUIRE(tokenizer_checksum(lm.tok) == tokenizer_checksum(tok), "%s %s was trained with another tokenizer", what,
              path);
    if (want)
        REQUIRE(lm.m->cfg.vocab_size == want->vocab_size, "%s %s has vocabulary %d, the policy %d", what, path,
              lm.m->cfg.vocab_size, want->vocab_size);
    GriffinModel *m = griffin_create_ex(&lm.m->cfg, B, T, 0, GRIFFIN_INFERENCE | flags);
    memcpy(m->params, lm.m->params, m->table.total * sizeof(float));
    loaded_model_free(&lm);
    return m;
}
