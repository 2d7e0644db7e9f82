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
    REQUIRE(rc == CKPT_OK, "checkpoint %s: %s", path, ckpt_why(err, path));
    REQUIRE(ld.config && ld.config[0], "checkpoint %s stores no config; it was not written by griffin", path);
    out->cfg = callocCheck(1, sizeof(TrainConfig));
    rc = train_config_parse_string(out->cfg, ld.config, path, NULL, 0, NULL, err, sizeof err);
    REQUIRE(rc == 0, "checkpoint %s: its stored config does not parse: %s", path, err);
    out->m = griffin_create(&out->cfg->griffin, max_B, max_T, 0);
    rc = ckpt_load_weights(path, &out->m->table, out->m->params, err, sizeof err);
    REQUIRE(rc == CKPT_OK, "checkpoint %s: %s", path, ckpt_why(err, path));
    if (out->cfg->griffin.lora_rank > 0) { /* merged in place: decode needs plain weights */
        griffin_merge_adapters(out->m);
        /* from here on a plain model (the adapter tensors stay after the base ones, unused):
         * models made from its config are plain, and its parameters' prefix is theirs */
        out->cfg->griffin.lora_rank = out->m->cfg.lora_rank = 0;
        out->merged = 1;
    }
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

/* tries pt (a prefix of m's table) */
static int load_prefix(const char *path, GriffinModel *m, GriffinConfig c, char *err, size_t errlen) {
    ParamTable pt;
    param_table_build(&pt, &c);
    int rc = pt.count < m->table.count ? ckpt_load_weights(path, &pt, m->params, err, errlen) : CKPT_ERR_MISMATCH;
    param_table_free(&pt);
    return rc;
}

static int same_tensors(const ParamTable *a, const ParamTable *b, int count) {
    if (a->count < count || b->count < count) return 0;
    for (int i = 0; i < count; i++)
        if (strcmp(a->t[i].name, b->t[i].name) || a->t[i].numel != b->t[i].numel) return 0;
    return 1;
}

/* the tensors of c's table (a prefix of m's) */
static int prefix_count(GriffinConfig c) {
    ParamTable pt;
    param_table_build(&pt, &c);
    int n = pt.count;
    param_table_free(&pt);
    return n;
}

int load_init_weights(const char *path, GriffinModel *m, const char *what, char *how, size_t howlen, int *from_file) {
    char err[2048], e2[2048];
    int dummy;
    if (!from_file) from_file = &dummy;
    *from_file = 0;
    int rc = ckpt_load_weights(path, &m->table, m->params, err, sizeof err);
    if (rc == CKPT_OK) {
        snprintf(how, howlen, "weights");
        *from_file = m->table.count;
        return 0;
    }
    REQUIRE(rc == CKPT_ERR_MISMATCH, "%s = %s: %s", what, path, ckpt_why(err, path));
    const GriffinConfig *c = &m->cfg;
    GriffinConfig nolora = *c, nohead = *c, neither = *c;
    nolora.lora_rank = neither.lora_rank = 0;
    nohead.reward_head = neither.reward_head = 0;
    if (c->lora_rank > 0 && load_prefix(path, m, nolora, e2, sizeof e2) == CKPT_OK) {
        snprintf(how, howlen, "the base weights (the LoRA adapters start at B = 0)");
        *from_file = prefix_count(nolora);
        return 1;
    }
    if (c->reward_head && load_prefix(path, m, nohead, e2, sizeof e2) == CKPT_OK) {
        snprintf(how, howlen, "the backbone (reward head: zero)");
        *from_file = prefix_count(nohead);
        return 0;
    }
    if (c->reward_head && c->lora_rank > 0 && load_prefix(path, m, neither, e2, sizeof e2) == CKPT_OK) {
        snprintf(how, howlen, "the backbone (reward head: zero; the LoRA adapters start at B = 0)");
        *from_file = prefix_count(neither);
        return 1;
    }
    /* a checkpoint with adapters of its own: merged, then its plain tensors are a prefix */
    LoadedModel lm;
    load_model(path, 1, 1, &lm);
    int n = lm.m->table.lora_first; /* the merged model's plain tensors */
    REQUIRE(lm.merged && same_tensors(&lm.m->table, &m->table, n), "%s = %s: %s", what, path, err);
    memcpy(m->params, lm.m->params, (lm.m->table.t[n - 1].offset + lm.m->table.t[n - 1].numel) * sizeof(float));
    loaded_model_free(&lm);
    snprintf(how, howlen, "the weights with its LoRA adapters merged in");
    return 0;
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
    GriffinModel *m = lm.m; /* the loaded weights with an inference arena for B x T: one copy */
    griffin_reshape(m, B, T, GRIFFIN_INFERENCE | flags);
    lm.m = NULL;
    loaded_model_free(&lm);
    return m;
}
