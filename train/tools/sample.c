/* griffin sample: text in, text out through a checkpoint's own tokenizer, generating with the
 * fixed-size state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include "common/check.h"
#include "data/chat.h"
#include "model/sampler.h"
#include "train/commands.h"
#include "train/ckpt/checkpoint.h"
#include "train/tools/model_io.h"
#include "train/tools/weights_opt.h"

static void sample_usage(FILE *f) {
    fprintf(f, "usage: griffin sample --checkpoint CKPT.h5 (--prompt TEXT | --prompt-file FILE) [--chat]\n"
               "                      [--config CONFIG.ini [--sample.KEY=VALUE ...]]\n"
               "                      [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]\n"
               "                      [--seed S] [--num-samples M] [--batch B] [--weights fp32|bf16|int8]\n"
               "                      [--base BASE.h5]\n"
               "  --base             an adapter checkpoint's base read from BASE.h5 instead of the path it\n"
               "                     records (the base moved); its size and CRC-32 must still match\n"
               "  --prompt-file      one prompt per line, generated in batches of --batch (default 16)\n"
               "  --chat             wrap each prompt in the chat format and stop at <end_of_turn>\n"
               "  --weights          how the weights are held for generation (default fp32): bf16 (round\n"
               "                     to nearest even) or int8 (per output row, fp32 scale); the checkpoint\n"
               "                     is not changed\n"
               "  --temperature 0    greedy; defaults: 128 tokens, temperature 0.8, top-k 0 (off),\n"
               "                     top-p 1 (off), seed 0, 1 sample\n"
               "  --config           take the defaults from the config's [sample] section (checkpoint, prompt,\n"
               "                     max_tokens, temperature, top_k, top_p, seed, chat); flags override them\n"
               "Generation stops at <eos> (and <end_of_turn> with --chat); the same seed gives the same text.\n");
}

/* Renders one prompt to ids (BOS first). */
static int *render(const Tokenizer *tok, const char *text, int chat, int *n) {
    TokenBuf b = {0};
    const char *e;
    TokenizerSpecials sp = tokenizer_specials(tok);
    if (chat) {
        e = chat_render_prompt(tok, text, strlen(text), &b);
    } else {
        CHECK(sp.bos >= 0, "the checkpoint's tokenizer has no <bos> piece");
        tokbuf_push(&b, (uint32_t)sp.bos, 0);
        e = chat_encode_append(tok, text, strlen(text), 0, &b);
    }
    CHECK(!e, "cannot encode the prompt: %s", e);
    int *ids = mallocCheck(sizeof(int) * b.n);
    for (size_t i = 0; i < b.n; i++) ids[i] = (int)b.ids[i];
    *n = (int)b.n;
    tokbuf_free(&b);
    return ids;
}

/* the [sample] section of --config CONFIG.ini (with its --section.key=value overrides) as the
 * defaults: one set of names and defaults for the config keys and the flags */
static TrainConfig *sample_config(int argc, char **argv) {
    const char *path = NULL;
    char *over[64];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) path = argv[++i];
        else if (!strncmp(argv[i], "--", 2) && strchr(argv[i], '=') && strchr(argv[i], '.') && n < 64) over[n++] = argv[i];
    }
    TrainConfig *cfg = callocCheck(1, sizeof *cfg);
    char err[2048];
    if (path) REQUIRE(train_config_load(cfg, path, n, over, err, sizeof err) == 0, "sample: %s", err);
    else REQUIRE(n == 0, "sample: %s is a config key: it needs --config CONFIG.ini", over[0]);
    return cfg;
}

/* the prompt, or one prompt per non-empty line of prompt_file */
static char **read_prompts(const char *prompt, const char *prompt_file, int *n) {
    char **texts = NULL;
    *n = 0;
    if (prompt) {
        texts = mallocCheck(sizeof(char *));
        texts[(*n)++] = strdup(prompt);
        return texts;
    }
    REQUIRE(access(prompt_file, R_OK) == 0, "sample: --prompt-file %s: %s", prompt_file, strerror(errno));
    FILE *f = fopenCheck(prompt_file, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        texts = realloc(texts, sizeof(char *) * (size_t)(*n + 1));
        CHECK(texts, "out of memory");
        texts[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    REQUIRE(*n > 0, "sample: %s has no prompts", prompt_file);
    return texts;
}

int cmd_sample(int argc, char **argv) {
    TrainConfig *cfg = sample_config(argc, argv);
    const SampleSection *ss = &cfg->sample;
    int has_cfg = cfg->source[0] != 0;
    const char *ckpt = has_cfg && ss->checkpoint[0] ? ss->checkpoint : NULL;
    const char *prompt = has_cfg && ss->prompt[0] ? ss->prompt : NULL, *prompt_file = NULL;
    int chat = has_cfg ? ss->chat : 0, max_new = has_cfg ? ss->max_tokens : 128, num_samples = 1, batch = 16;
    SamplerParams sp = {has_cfg ? ss->temperature : 0.8f, has_cfg ? ss->top_k : 0, has_cfg ? ss->top_p : 1.0f, 0};
    unsigned long long seed = has_cfg ? (unsigned long long)ss->seed : 0;
    WeightFormat wf = WEIGHTS_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sample_usage(stdout);
            free(cfg);
            return 0;
        }
        if (!strcmp(a, "--chat")) {
            chat = 1;
            continue;
        }
        if (!strncmp(a, "--", 2) && strchr(a, '=') && strchr(a, '.')) continue; /* a config override */
        CHECK(i + 1 < argc, "griffin sample: %s needs a value", a);
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--config")) continue; /* read by sample_config */
        if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--base")) ckpt_set_base(v);
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--prompt-file")) prompt_file = v;
        else if (!strcmp(a, "--max-new-tokens") || !strcmp(a, "--max-tokens")) max_new = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--temperature")) sp.temperature = strtof(v, &end);
        else if (!strcmp(a, "--top-k")) sp.top_k = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--top-p")) sp.top_p = strtof(v, &end);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, &end, 10);
        else if (!strcmp(a, "--num-samples")) num_samples = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--batch")) batch = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--weights")) wf = weights_option("griffin sample", v);
        else DIE("griffin sample: unknown option %s (see --help)", a);
        CHECK(!end || (*end == 0 && end != v), "griffin sample: %s: '%s' is not a number", a, v);
    }
    if (prompt_file) prompt = NULL; /* --prompt-file replaces the config's sample.prompt */
    if (!ckpt || (!prompt == !prompt_file)) {
        sample_usage(stderr);
        free(cfg);
        return 2;
    }
    CHECK(max_new > 0 && num_samples > 0 && batch > 0, "griffin sample: counts must be positive");
    CHECK(sp.temperature >= 0 && sp.top_k >= 0 && sp.top_p > 0 && sp.top_p <= 1,
          "griffin sample: need temperature >= 0, top-k >= 0, 0 < top-p <= 1");

    int n_prompts = 0;
    char **texts = read_prompts(prompt, prompt_file, &n_prompts);

    /* every (prompt, sample) pair is one sequence */
    int total = n_prompts * num_samples;
    int **ids = mallocCheck(sizeof(int *) * (size_t)total), *lens = mallocCheck(sizeof(int) * (size_t)total);
    int maxP = 1;
    LoadedModel lm;
    /* load once with a small arena to get the tokenizer, then size the real one */
    load_model(ckpt, 1, 1, &lm);
    CHECK(lm.tok, "checkpoint %s carries no tokenizer (train with model.tokenizer set)", ckpt);
    for (int i = 0; i < total; i++) {
        ids[i] = render(lm.tok, texts[i / num_samples], chat, &lens[i]);
        maxP = lens[i] > maxP ? lens[i] : maxP;
    }
    int B = batch < total ? batch : total;
    GriffinModel *m = lm.m; /* the loaded weights, with an arena for the batch: no second copy */
    griffin_reshape(m, B, maxP, GRIFFIN_INFERENCE);
    weights_apply(m, wf, ckpt);
    TokenizerSpecials spc = tokenizer_specials(lm.tok);
    sp.vocab_limit = tokenizer_vocab_size(lm.tok); /* never an id the tokenizer cannot decode */
    int stops[2], n_stop = 0;
    if (spc.eos >= 0) stops[n_stop++] = spc.eos;
    if (chat && spc.end_of_turn >= 0) stops[n_stop++] = spc.end_of_turn;

    for (int start = 0; start < total; start += B) {
        int nb = total - start < B ? total - start : B;
        DecodeState *s = decode_create(m, nb);
        Generation g;
        generation_alloc(&g, nb, max_new, 0);
        generate(m, s, (const int *const *)(ids + start), lens + start, max_new, &sp, stops, n_stop,
                 seed, (uint64_t)start, &g);
        for (int b = 0; b < nb; b++) {
            int i = start + b;
            uint32_t *out = mallocCheck(sizeof(uint32_t) * (size_t)(g.len[b] + 1));
            for (int k = 0; k < g.len[b]; k++) out[k] = (uint32_t)g.tokens[(size_t)b * g.max_new + k];
            char *text = tokenizer_decode(lm.tok, out, (size_t)g.len[b], NULL);
            if (total > 1) printf("=== prompt %d, sample %d ===\n", i / num_samples + 1, i % num_samples + 1);
            printf("%s%s\n", text, g.stopped[b] ? "" : " [max tokens]");
            free(text);
            free(out);
        }
        generation_free(&g);
        decode_free(s);
    }
    for (int i = 0; i < total; i++) free(ids[i]);
    for (int i = 0; i < n_prompts; i++) free(texts[i]);
    free(ids);
    free(lens);
    free(texts);
    loaded_model_free(&lm);
    free(cfg);
    return 0;
}
