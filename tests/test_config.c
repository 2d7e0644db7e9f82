/* train/config: configs/tiny.ini and the fixtures in tests/fixtures/ parse; overrides apply; relative
 * paths resolve from the project root; every error names file:line (or the override) and the
 * key; a config survives serialisation to INI text and back. Exits non-zero on failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "train/config/config.h"
#include "tests/expect.h"

#ifndef GRIFFIN_SOURCE_DIR
#error "GRIFFIN_SOURCE_DIR must be defined by tests/train.cmake"
#endif

static TrainConfig cfg, cfg2; /* large: keep them off the stack */
static char tmpdir[] = "/tmp/griffin_cfg_XXXXXX";

static const char *write_tmp(const char *name, const char *text) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopenCheck(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* the same config: every value, corpus and stage (not where they were set) */
static int same_config(const TrainConfig *a, const TrainConfig *b) {
    if (memcmp(&a->model, &b->model, sizeof a->model) || memcmp(&a->train, &b->train, sizeof a->train) ||
        memcmp(&a->optim, &b->optim, sizeof a->optim) || memcmp(&a->rlhf, &b->rlhf, sizeof a->rlhf) ||
        memcmp(&a->sample, &b->sample, sizeof a->sample))
        return 0;
    if (a->n_data != b->n_data || a->n_valid != b->n_valid || a->n_stages != b->n_stages) return 0;
    for (int i = 0; i < a->n_data; i++)
        if (strcmp(a->data[i].name, b->data[i].name) || strcmp(a->data[i].path, b->data[i].path)) return 0;
    for (int i = 0; i < a->n_valid; i++)
        if (strcmp(a->valid[i].name, b->valid[i].name) || strcmp(a->valid[i].path, b->valid[i].path)) return 0;
    for (int s = 0; s < a->n_stages; s++) {
        const StageConfig *x = &a->stage[s], *y = &b->stage[s];
        if (x->steps != y->steps || x->n_mix != y->n_mix) return 0;
        for (int m = 0; m < x->n_mix; m++)
            if (strcmp(x->mix[m].name, y->mix[m].name) || x->mix[m].weight != y->mix[m].weight) return 0;
    }
    return !memcmp(&a->griffin, &b->griffin, sizeof a->griffin);
}

static void round_trip(const TrainConfig *c, const char *what) {
    char err[1024];
    char *text = train_config_to_ini(c);
    int rc = train_config_parse_string(&cfg2, text, "serialised", "/elsewhere", 0, NULL, err, sizeof err);
    EXPECT(rc == 0, "%s: serialised text does not parse: %s\n%s", what, err, text);
    if (!rc) {
        EXPECT(same_config(c, &cfg2), "%s: round trip changed the config", what);
        char *again = train_config_to_ini(&cfg2);
        EXPECT(!strcmp(text, again), "%s: serialising twice differs", what);
        free(again);
    }
    free(text);
}

static void test_tiny(void) {
    char err[1024], path[4096];
    snprintf(path, sizeof path, "%s/configs/tiny.ini", GRIFFIN_SOURCE_DIR);
    int rc = train_config_load(&cfg, path, 0, NULL, err, sizeof err);
    EXPECT(rc == 0, "configs/tiny.ini: %s", err);
    if (rc) return;
    const GriffinConfig *g = &cfg.griffin;
    EXPECT(g->family == FAMILY_GRIFFIN && g->vocab_size == 8192 && g->width == 64 && g->depth == 3 && g->num_heads == 2 &&
               g->mlp_width == 192 && g->window == 32 && g->lru_width == 64 && g->embed_scale == 1,
           "tiny model fields");
    EXPECT(g->block_types[0] == BLOCK_RECURRENT && g->block_types[1] == BLOCK_RECURRENT && g->block_types[2] == BLOCK_ATTENTION,
           "griffin block pattern");
    EXPECT(cfg.train.seq_len == 64 && cfg.train.batch_size == 4, "tiny batch");
    EXPECT(cfg.n_stages == 2 && cfg.train.steps == cfg.stage[0].steps + cfg.stage[1].steps, "steps = sum of stages");
    EXPECT(cfg.n_data == 5 && cfg.n_valid == 2, "tiny corpora");
    const char *names[] = {"fortunes", "foldoc", "gcide", "pydoc", "manpages"};
    for (int i = 0; i < 5; i++) {
        int k = train_config_find_data(&cfg, names[i]);
        char want[4096];
        snprintf(want, sizeof want, "%s/data/prepared/small/%s.train.h5", GRIFFIN_SOURCE_DIR, names[i]);
        char *real_root = realpath(GRIFFIN_SOURCE_DIR, NULL);
        char want2[4096];
        snprintf(want2, sizeof want2, "%s/data/prepared/small/%s.train.h5", real_root ? real_root : "", names[i]);
        free(real_root);
        EXPECT(k >= 0 && (!strcmp(cfg.data[k].path, want) || !strcmp(cfg.data[k].path, want2)),
               "data.%s resolved from the project root: %s", names[i], k >= 0 ? cfg.data[k].path : "(absent)");
    }
    EXPECT(train_config_stage_at(&cfg, 0) == 0 && train_config_stage_at(&cfg, cfg.stage[0].steps - 1) == 0 &&
               train_config_stage_at(&cfg, cfg.stage[0].steps) == 1 && train_config_stage_at(&cfg, 1000000) == 1,
           "stage_at");
    EXPECT(train_config_stage_start(&cfg, 1) == cfg.stage[0].steps, "stage_start");
    LrSchedule s = train_config_schedule(&cfg);
    EXPECT(s.kind == LR_COSINE && s.steps == cfg.train.steps && s.lr == cfg.optim.lr, "schedule from config");
    AdamWConfig a = train_config_adamw(&cfg);
    EXPECT(a.beta2 == 0.95f && a.weight_decay == 0.1f && !a.decay_embeddings, "adamw from config");
    round_trip(&cfg, "tiny.ini");

    /* overrides, including a stage key and a new corpus */
    char *over[] = {"--optim.lr=3e-4", "--stage.1.steps=5", "--train.steps=12", "--data.extra=/x/extra.h5",
                    "--stage.2.mix=extra:1, gcide:3", "--model.family=hawk", "--train.out_dir=/tmp/run",
                    "--train.full_checkpoints=true"};
    EXPECT(!cfg.train.full_checkpoints, "train.full_checkpoints defaults to false");
    rc = train_config_load(&cfg, path, 8, over, err, sizeof err);
    EXPECT(rc == 0, "tiny with overrides: %s", err);
    if (!rc) {
        EXPECT(cfg.optim.lr == 3e-4f && cfg.stage[0].steps == 5 && cfg.train.steps == 12, "override values");
        EXPECT(cfg.stage[1].n_mix == 2 && !strcmp(cfg.stage[1].mix[0].name, "extra") && cfg.stage[1].mix[1].weight == 3.0,
               "mix override replaces the mix");
        EXPECT(cfg.griffin.family == FAMILY_HAWK && cfg.griffin.block_types[2] == BLOCK_RECURRENT, "family override");
        EXPECT(!strcmp(cfg.train.out_dir, "/tmp/run"), "absolute path kept");
        EXPECT(cfg.train.full_checkpoints == 1, "train.full_checkpoints override");
        FILE *devnull = fopen("/dev/null", "w");
        train_config_print(&cfg, devnull);
        train_config_usage(devnull);
        fclose(devnull);
        round_trip(&cfg, "tiny.ini + overrides");
    }
}

static void test_good_fixture(void) {
    char err[1024], path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/good.ini", GRIFFIN_SOURCE_DIR);
    int rc = train_config_load(&cfg, path, 0, NULL, err, sizeof err);
    EXPECT(rc == 0, "good.ini: %s", err);
    if (rc) return;
    EXPECT(cfg.model.family == FAMILY_HAWK && cfg.model.soft_cap == 0.0f && !cfg.model.embed_scale, "model values");
    EXPECT(cfg.optim.schedule == LR_WSD && cfg.optim.decay_shape == DECAY_COSINE && cfg.optim.decay_fraction == 0.25f &&
               cfg.optim.decay_embeddings, "optim values");
    EXPECT(!strcmp(cfg.train.resume, "auto"), "resume=auto is a word, not a path: %s", cfg.train.resume);
    EXPECT(!strcmp(cfg.sample.prompt, "Once upon a time"), "string value: '%s'", cfg.sample.prompt);
    EXPECT(cfg.train.steps == 10 && cfg.n_stages == 2 && cfg.stage[0].steps == 6, "stages out of order in the file");
    EXPECT(cfg.stage[1].n_mix == 2 && !strcmp(cfg.stage[1].mix[1].name, "books") && cfg.stage[1].mix[1].weight == 2.5,
           "continuation line appends to the mix");
    EXPECT(cfg.n_valid == 2 && cfg.valid[0].name[0] == 0 && !strcmp(cfg.valid[1].name, "code"), "validation groups");
    /* not in a configs/ folder: relative paths from the config's own folder */
    char *root = realpath(GRIFFIN_SOURCE_DIR "/tests/fixtures", NULL);
    char want[4096];
    snprintf(want, sizeof want, "%s/corpora/web.h5", root);
    int k = train_config_find_data(&cfg, "web");
    EXPECT(k >= 0 && !strcmp(cfg.data[k].path, want), "fixture-relative path: %s", k >= 0 ? cfg.data[k].path : "");
    snprintf(want, sizeof want, "%s/out/good", root);
    EXPECT(!strcmp(cfg.train.out_dir, want), "out_dir with inline comment: '%s'", cfg.train.out_dir);
    k = train_config_find_data(&cfg, "code");
    EXPECT(k >= 0 && !strcmp(cfg.data[k].path, "/abs/code.h5"), "absolute data path");
    free(root);
    round_trip(&cfg, "good.ini");

    /* a config in some configs/ folder: root is that folder's parent; out_dir defaults to runs/<stem> */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/proj/configs", tmpdir);
    snprintf(want, sizeof want, "%s/proj", tmpdir);
    mkdir(want, 0777); /* want is reused as the project root */
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/exp1.ini", dir);
    FILE *f = fopenCheck(path, "w");
    fputs("[model]\nwidth=32\ndepth=1\nheads=1\nmlp_width=8\nvocab_size=16\n[data]\na = d/a.h5\n[stage.1]\nsteps=3\nmix=a:1\n", f);
    fclose(f);
    rc = train_config_load(&cfg, path, 0, NULL, err, sizeof err);
    EXPECT(rc == 0, "configs/ folder: %s", err);
    char *real = realpath(want, NULL);
    char want_data[4300], want_out[4300];
    snprintf(want_data, sizeof want_data, "%s/d/a.h5", real);
    snprintf(want_out, sizeof want_out, "%s/runs/exp1", real);
    EXPECT(!rc && !strcmp(cfg.data[0].path, want_data), "root = parent of configs/: %s", cfg.data[0].path);
    EXPECT(!rc && !strcmp(cfg.train.out_dir, want_out), "default out_dir: %s", cfg.train.out_dir);
    free(real);
}

/* an error case: text written to a file; the message must contain every needle */
typedef struct {
    const char *text;
    const char *needle1, *needle2;
} Bad;

static const char *MODEL = "[model]\nwidth = 64\ndepth = 3\nheads = 2\nmlp_width = 192\nvocab_size = 512\n";

static void expect_error_text(const char *what, const char *text, int n_over, char **over, const char *n1,
                              const char *n2) {
    char err[1024];
    const char *path = write_tmp("case.ini", text);
    int rc = train_config_load(&cfg, path, n_over, over, err, sizeof err);
    EXPECT(rc == -1, "%s: accepted", what);
    EXPECT(rc == 0 || (strstr(err, n1) && (!n2 || strstr(err, n2))), "%s: message '%s' lacks '%s' / '%s'", what, err, n1,
           n2 ? n2 : "");
    if (rc) printf("  %-22s -> %s\n", what, strrchr(err, '/') ? strrchr(err, '/') + 1 : err);
}

static void test_errors(void) {
    char buf[4096];
    struct {
        const char *what, *extra, *n1, *n2;
    } cases[] = {
        /* MODEL occupies lines 1-6 */
        {"unknown key", "[optim]\nlrr = 1\n", "case.ini:8: optim.lrr", "unknown key"},
        {"unknown section", "[optimizer]\nlr = 1\n", "case.ini:7:", "unknown section [optimizer]"},
        {"not an integer", "[train]\nbatch_size = 6x4\n", "case.ini:8: train.batch_size", "not an integer"},
        {"not a number", "[optim]\nlr = fast\n", "case.ini:8: optim.lr", "not a finite number"},
        {"out of range", "[optim]\nbeta1 = 1\n", "case.ini:8: optim.beta1", "out of range [0, 1)"},
        {"open lower bound", "[optim]\nlr = 0\n", "case.ini:8: optim.lr", "out of range (0, 10]"},
        {"float underflow", "[optim]\neps = 1e-50\n", "case.ini:8: optim.eps", "not representable as a 32-bit float"},
        {"float overflow", "[model]\nsoft_cap = 1e39\n", "case.ini:8: model.soft_cap", "not representable as a 32-bit float"},
        {"rounds onto an open bound", "[optim]\nbeta2 = 0.99999999\n", "case.ini:8: optim.beta2", "out of range [0, 1)"},
        {"negative", "[train]\nsteps = -5\n", "case.ini:8: train.steps", "out of range"},
        {"bad enum", "[optim]\nschedule = linear\n", "case.ini:8: optim.schedule", "constant|cosine|wsd"},
        {"bad bool", "[model]\nembed_scale = maybe\n", "case.ini:8: model.embed_scale", "boolean"},
        {"duplicate key", "[train]\nseed = 1\nseed = 2\n", "case.ini:9: train.seed", "first set at line 8"},
        {"duplicate corpus", "[data]\na = a.h5\na = b.h5\n", "case.ini:9: data.a", "duplicate"},
        {"bad corpus name", "[data]\nmy corpus = a.h5\n", "case.ini:8: data.my corpus", "corpus names"},
        {"unknown corpus in mix", "[data]\na = a.h5\n[stage.1]\nsteps = 3\nmix = a:1, b:2\n", "case.ini:11: stage.1.mix",
         "'b' is not defined in [data]"},
        {"zero weight", "[data]\na = a.h5\n[stage.1]\nsteps = 3\nmix = a:0\n", "case.ini:11: stage.1.mix", "positive"},
        {"mix syntax", "[data]\na = a.h5\n[stage.1]\nsteps = 3\nmix = a 1\n", "case.ini:11: stage.1.mix", "name:weight"},
        {"stage without steps", "[data]\na = a.h5\n[stage.1]\nmix = a:1\n", "case.ini:9: stage.1.steps", "required"},
        {"stage without mix", "[data]\na = a.h5\n[stage.1]\nsteps = 4\n", "case.ini:9: stage.1.mix", "required"},
        {"stage gap", "[data]\na = a.h5\n[stage.2]\nsteps = 4\nmix = a:1\n", "case.ini:9: stage.1", "without gaps"},
        {"bad stage section", "[stage.one]\nsteps = 4\n", "case.ini:7:", "bad section [stage.one]"},
        {"unknown stage key", "[data]\na = a.h5\n[stage.1]\nsteps = 4\nmix = a:1\nweight = 2\n", "case.ini:12: stage.1.weight",
         "unknown key"},
        {"syntax error", "[train]\nthis line has no equals sign\n", "case.ini:8:", "syntax error"},
        {"heads do not divide width", "[model]\n", NULL, NULL}, /* replaced below */
        {"min_lr above lr", "[optim]\nlr = 1e-4\nmin_lr = 1e-3\n", "case.ini:9: optim.min_lr", "exceeds optim.lr"},
        {"warmup beyond steps", "[train]\nsteps = 10\n[optim]\nwarmup_steps = 11\n", "case.ini:10: optim.warmup_steps",
         "exceeds train.steps"},
        {"continuation of a scalar", "[train]\nseed = 1\n  2\n", "case.ini:9: train.seed", "continuation"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cases[i].n1) continue;
        snprintf(buf, sizeof buf, "%s%s", MODEL, cases[i].extra);
        expect_error_text(cases[i].what, buf, 0, NULL, cases[i].n1, cases[i].n2);
    }
    expect_error_text("heads do not divide", "[model]\nwidth = 64\ndepth = 3\nheads = 3\nmlp_width = 192\nvocab_size = 512\n", 0,
                      NULL, "case.ini:4: model.heads", "heads must divide width");
    expect_error_text("key outside sections", "seed = 1\n[model]\n", 0, NULL, "case.ini:1: seed", "outside any section");
    expect_error_text("missing required", "[model]\nwidth = 64\ndepth = 3\nheads = 2\nmlp_width = 192\n", 0, NULL,
                      "case.ini:1: model.vocab_size", "required key missing");
    expect_error_text("no [model] section", "[train]\nseed = 1\n", 0, NULL, "case.ini:2: model.width", "no [model] section");
    char longline[400];
    snprintf(longline, sizeof longline, "%s[sample]\nprompt = %0300d\n", MODEL, 0);
    expect_error_text("line too long", longline, 0, NULL, "case.ini:8:", "longer than");

    /* fixtures */
    char err[1024], path[4096];
    struct {
        const char *file, *n1, *n2;
    } fx[] = {
        {"bad_unknown_key.ini", "bad_unknown_key.ini:10: optim.learning_rate", "unknown key"},
        {"bad_range.ini", "bad_range.ini:9: optim.beta2", "out of range"},
        {"bad_missing.ini", "bad_missing.ini:2: model.vocab_size", "required"},
        {"bad_mix.ini", "bad_mix.ini:13: stage.1.mix", "'wiki' is not defined"},
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        snprintf(path, sizeof path, "%s/tests/fixtures/%s", GRIFFIN_SOURCE_DIR, fx[i].file);
        int rc = train_config_load(&cfg, path, 0, NULL, err, sizeof err);
        EXPECT(rc == -1 && strstr(err, fx[i].n1) && strstr(err, fx[i].n2), "%s: '%s'", fx[i].file, err);
        printf("  %-22s -> %s\n", fx[i].file, strrchr(err, '/') ? strrchr(err, '/') + 1 : err);
    }
    snprintf(path, sizeof path, "%s/tests/fixtures/no_such.ini", GRIFFIN_SOURCE_DIR);
    EXPECT(train_config_load(&cfg, path, 0, NULL, err, sizeof err) == -1 && strstr(err, "no_such.ini") && strstr(err, "cannot open"),
           "missing file: %s", err);

    /* overrides name themselves */
    struct {
        char *o;
        const char *n1, *n2;
    } ov[] = {
        {"--optim.lrr=1", "override '--optim.lrr=1': optim.lrr", "unknown key"},
        {"--optim.lr=abc", "override '--optim.lr=abc': optim.lr", "not a finite number"},
        {"--train.grad_accum=0", "override '--train.grad_accum=0': train.grad_accum", "out of range"},
        {"--optim.lr", "override '--optim.lr'", "--section.key=value"},
        {"optim.lr=1", "override 'optim.lr=1'", "--section.key=value"},
        {"--lr=1", "override '--lr=1'", "--section.key=value"},
        {"--stage.3.steps=5", "override '--stage.3.steps=5': stage.2", "without gaps"},
        {"--stage.2.steps=5", "override '--stage.2.steps=5': stage.2.mix", "required"},
        {"--stage.1.mix=zz:1", "override '--stage.1.mix=zz:1': stage.1.mix", "'zz' is not defined"},
        {"--model.heads=3", "override '--model.heads=3': model.heads", "divide"},
    };
    snprintf(buf, sizeof buf, "%s[data]\na = a.h5\n[stage.1]\nsteps = 3\nmix = a:1\n", MODEL);
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) expect_error_text(ov[i].o, buf, 1, &ov[i].o, ov[i].n1, ov[i].n2);
}

static void test_long_mix_round_trip(void) {
    /* 30 corpora: the serialised mix needs continuation lines to stay under inih's line limit */
    char text[8192], err[1024];
    size_t u = (size_t)snprintf(text, sizeof text, "%s[data]\n", MODEL);
    for (int i = 0; i < 30; i++) u += (size_t)snprintf(text + u, sizeof text - u, "corpus_number_%02d = c%02d.h5\n", i, i);
    u += (size_t)snprintf(text + u, sizeof text - u, "[stage.1]\nsteps = 5\nmix = corpus_number_00:0.1\n");
    for (int i = 1; i < 30; i++) u += (size_t)snprintf(text + u, sizeof text - u, "  corpus_number_%02d:%d.%d\n", i, i, i);
    const char *path = write_tmp("long.ini", text);
    int rc = train_config_load(&cfg, path, 0, NULL, err, sizeof err);
    EXPECT(rc == 0 && cfg.stage[0].n_mix == 30, "30-corpus mix: %s", err);
    if (!rc) round_trip(&cfg, "30-corpus mix");
}

int main(void) {
    CHECK(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    test_tiny();
    test_good_fixture();
    printf("error messages:\n");
    test_errors();
    test_long_mix_round_trip();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    if (failures) {
        fprintf(stderr, "test_config: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_config: all passed\n");
    return 0;
}
