/* griffin inspect: describe a corpus file (--show N decodes its first N documents) or a
 * checkpoint (train/ckpt/checkpoint.h: ckpt_describe); --verify checks either end to end. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/check.h"
#include "data/corpus.h"
#include "data/h5guard.h"
#include "data/tokenizer.h"
#include "train/ckpt/checkpoint.h"
#include "train/commands.h"

static void inspect_usage(FILE *f) {
    fprintf(f, "usage: griffin inspect FILE.h5 [--show N] [--tokenizer M.model]\n"
               "       griffin inspect --verify FILE.h5 [--base BASE.h5]\n"
               "       griffin inspect [--verify] megatron:PREFIX | llmc:GLOB | nanogpt:FILE\n"
               "                       [--vocab V] [--eot ID] [--show N --tokenizer M.model]\n"
               "  describes a corpus or a checkpoint; external corpora (read in place) take the\n"
               "  vocabulary size from --vocab or the tokenizer, and llmc/nanogpt the id that\n"
               "  separates documents from --eot\n"
               "  --verify     check the file end to end instead: the whole-file checksum, every\n"
               "               dataset's checksum; a checkpoint's tensor names and shapes against\n"
               "               its stored config and every parameter and Adam moment finite; a\n"
               "               corpus's kind, document count, offsets, token ids < vocab_size,\n"
               "               byte counts and loss masks; an external corpus's header, sizes, index\n"
               "               and every token id. Prints 'OK: ...' and exits 0, or one\n"
               "               line naming the file and what is wrong and exits 1 (also when\n"
               "               HDF5 crashes on an older file that has no whole-file checksum); an\n"
               "               adapter checkpoint's base is checked by size and CRC-32 (--base\n"
               "               BASE.h5: from there instead of the path it records)\n"
               "  --show N     decode the first N documents (control tokens shown as <...>;\n"
               "               in chat corpora the loss-masked part is wrapped in [[ ]])\n"
               "  --tokenizer  the model to decode with (default: the one recorded in the file)\n");
}

/* Prints ids as text; control pieces by name; mask changes as [[ and ]]. */
static void print_doc(const Tokenizer *t, CorpusDoc d) {
    size_t start = 0;
    int in_mask = 0;
    for (size_t i = 0; i <= d.n; i++) {
        int boundary = i == d.n || tokenizer_is_control(t, (int)d.tokens[i]) ||
                       (d.mask && (d.mask[i] != 0) != in_mask);
        if (!boundary) continue;
        if (i > start) {
            char *s = tokenizer_decode(t, d.tokens + start, i - start, NULL);
            fputs(s, stdout);
            free(s);
        }
        if (i == d.n) break;
        if (d.mask && (d.mask[i] != 0) != in_mask) {
            fputs(in_mask ? "]]" : "[[", stdout);
            in_mask = !in_mask;
        }
        if (tokenizer_is_control(t, (int)d.tokens[i])) {
            fputs(tokenizer_id_to_piece(t, (int)d.tokens[i]), stdout);
            start = i + 1;
        } else {
            start = i;
        }
    }
    if (in_mask) fputs("]]", stdout);
    fputc('\n', stdout);
}

/* inspect --verify: 0, or 1 after one line on stderr naming the file and the problem (a
 * corpus that fails corpus_open's own checks ends there, through CHECK, with such a line) */
static int verify(const char *path) {
    char err[1024], summary[1024], format[64];
    int guard = h5guard_check(path, err, sizeof err);
    if (guard < 0) {
        fprintf(stderr, "griffin inspect --verify: %s: %s\n", path, err);
        return 1;
    }
    if (h5_file_format(path, format, sizeof format) != 0) {
        fprintf(stderr, "griffin inspect --verify: %s: not a readable HDF5 file\n", path);
        return 1;
    }
    if (!strcmp(format, CKPT_FORMAT)) {
        if (ckpt_verify_full(path, summary, sizeof summary, err, sizeof err) != CKPT_OK) {
            fprintf(stderr, "griffin inspect --verify: %s\n", err);
            return 1;
        }
        CkptLoaded m;
        CHECK(ckpt_load(path, NULL, NULL, NULL, NULL, &m, err, sizeof err) == CKPT_OK, "inspect --verify: %s", err);
        if (m.tokenizer_len > 0) { /* the tokenizer the checkpoint carries must load */
            Tokenizer *t = tokenizer_load_from_memory(m.tokenizer, m.tokenizer_len, path);
            tokenizer_free(t);
        }
        ckpt_loaded_free(&m);
        printf("OK: %s\n", summary);
        return 0;
    }
    if (strcmp(format, CORPUS_FORMAT)) {
        fprintf(stderr, "griffin inspect --verify: %s: neither a griffin corpus nor a checkpoint (format attribute '%s')\n",
                path, format);
        return 1;
    }
    Corpus *c = corpus_open(path, CORPUS_ANY); /* format, version, kind, counts, offsets, ids < vocab */
    if (corpus_verify(c, err, sizeof err)) {
        fprintf(stderr, "griffin inspect --verify: %s: %s\n", path, err);
        corpus_close(c);
        return 1;
    }
    CorpusKind kind = corpus_kind(c);
    uint64_t tokens = 0;
    for (int f = 0; f < corpus_kind_num_fields(kind); f++) tokens += corpus_num_tokens(c, f);
    printf("OK: %s: griffin corpus (%s), %zu documents, %llu tokens, %llu bytes, vocab_size %d, every checksum%s, "
           "offset and token id good\n",
           path, corpus_kind_name(kind), corpus_num_docs(c), (unsigned long long)tokens,
           (unsigned long long)corpus_num_bytes(c, 0), corpus_vocab_size(c),
           corpus_guarded(c) ? " (whole file and Fletcher32)" : " (Fletcher32; no whole-file checksum: an older file)");
    corpus_close(c);
    return 0;
}

/* An external corpus (megatron:, llmc:, nanogpt:), described or verified. Without --vocab or
 * a tokenizer the ids are not bounded (and --verify reports the largest). */
static int inspect_external(const char *spec, int want_verify, long show, const char *tok_path, long vocab,
                            long long eot) {
    Tokenizer *t = tok_path ? tokenizer_load(tok_path) : NULL;
    CorpusOptions o = {0};
    o.vocab_size = vocab > 0 ? (int)vocab : t ? tokenizer_vocab_size(t) : INT_MAX;
    o.eot = eot;
    Corpus *c = corpus_open_ex(spec, CORPUS_TEXT, &o);
    if (t) corpus_check_tokenizer(c, t, tok_path);
    char err[1024];
    int rc = 0;
    if (want_verify) {
        if (corpus_verify(c, err, sizeof err)) {
            fprintf(stderr, "griffin inspect --verify: %s: %s\n", spec, err);
            rc = 1;
        } else {
            char bound[64] = " (no --vocab: not bounded)";
            if (o.vocab_size < INT_MAX) snprintf(bound, sizeof bound, " < vocab_size %d", corpus_vocab_size(c));
            printf("OK: %s: %s corpus, %zu documents, %llu tokens, largest id %lld%s; header, sizes, index and every "
                   "token id good\n", spec, corpus_format(c), corpus_num_docs(c),
                   (unsigned long long)corpus_num_tokens(c, 0), (long long)corpus_max_id(c), bound);
        }
    } else {
        printf("file: %s\nformat: %s (read in place)\nkind: text\ndocuments: %zu\ntokens: %llu\n", spec,
               corpus_format(c), corpus_num_docs(c), (unsigned long long)corpus_num_tokens(c, 0));
        printf("bytes: unavailable (not recorded by this format)\n");
        if (o.vocab_size < INT_MAX) printf("vocab_size: %d\n", corpus_vocab_size(c));
        else printf("vocab_size: not recorded (give --vocab or --tokenizer)\n");
        if (eot >= 0 && strncmp(spec, "megatron:", 9)) printf("eot: %lld\n", eot);
        CHECK(!show || t, "inspect %s: --show needs --tokenizer (an external corpus names none)", spec);
        for (size_t i = 0; i < corpus_num_docs(c) && i < (size_t)show; i++) {
            CorpusDoc d = corpus_doc(c, 0, i);
            printf("--- document %zu (%zu tokens)\n", i, d.n);
            print_doc(t, d);
        }
    }
    corpus_close(c);
    tokenizer_free(t);
    return rc;
}

/* verify() in a child process: a file without the whole-file checksum (written before it
 * existed) goes to HDF5 unchecked, and HDF5 1.10 crashes on some damaged ones; the crash is
 * then reported as damage instead of ending `inspect --verify` with a signal. */
static int verify_isolated(const char *path) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return verify(path); /* cannot fork: check in this process */
    if (pid == 0) {
        int rc = verify(path);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) DIE("inspect --verify %s: waitpid: %s", path, strerror(errno));
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "griffin inspect --verify: %s: damaged: the HDF5 library crashed reading it (signal %d, %s)\n", path,
                WTERMSIG(st), strsignal(WTERMSIG(st)));
        return 1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL, *tok_path = NULL;
    long show = 0, vocab = 0;
    long long eot = -1;
    int want_verify = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            inspect_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--show") && i + 1 < argc) {
            char *end;
            show = strtol(argv[++i], &end, 10);
            CHECK(*end == '\0' && show >= 0, "inspect: --show needs a count, got '%s'", argv[i]);
        } else if (!strcmp(argv[i], "--verify")) {
            want_verify = 1;
        } else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) {
            char *end;
            vocab = strtol(argv[++i], &end, 10);
            CHECK(*end == '\0' && vocab > 0 && vocab < INT_MAX, "inspect: --vocab needs a size, got '%s'", argv[i]);
        } else if (!strcmp(argv[i], "--eot") && i + 1 < argc) {
            char *end;
            eot = strtoll(argv[++i], &end, 10);
            CHECK(*end == '\0' && eot >= 0 && eot <= (long long)UINT32_MAX, "inspect: --eot needs a token id, got '%s'",
                  argv[i]);
        } else if (!strcmp(argv[i], "--base") && i + 1 < argc) {
            ckpt_set_base(argv[++i]);
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            tok_path = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            inspect_usage(stderr);
            DIE("inspect: unexpected argument '%s'", argv[i]);
        }
    }
    if (!path) {
        inspect_usage(stderr);
        return 2;
    }
    if (corpus_spec_is_external(path)) return inspect_external(path, want_verify, show, tok_path, vocab, eot);
    if (want_verify) return verify_isolated(path);
    char format[64];
    h5_file_format(path, format, sizeof format);
    if (!strcmp(format, CKPT_FORMAT)) {
        char err[512];
        CHECK(ckpt_describe(path, stdout, err, sizeof err) == 0, "inspect %s: %s", path, err);
        return 0;
    }
    Corpus *c = corpus_open(path, CORPUS_ANY);
    CorpusKind kind = corpus_kind(c);
    int n_fields = corpus_kind_num_fields(kind);
    printf("file: %s\nformat: %s v%d\nkind: %s\ndocuments: %zu\n", path, CORPUS_FORMAT, CORPUS_VERSION,
           corpus_kind_name(kind), corpus_num_docs(c));
    uint64_t total = 0;
    for (int f = 0; f < n_fields; f++) total += corpus_num_tokens(c, f);
    printf("tokens: %llu\n", (unsigned long long)total);
    if (n_fields > 1 || kind == CORPUS_PROMPT)
        for (int f = 0; f < n_fields; f++)
            printf("tokens.%s: %llu\n", corpus_field_name(kind, f), (unsigned long long)corpus_num_tokens(c, f));
    printf("bytes: %llu\n", (unsigned long long)corpus_num_bytes(c, 0));
    if (kind == CORPUS_CHAT) {
        uint64_t masked = 0;
        for (size_t i = 0; i < corpus_num_docs(c); i++) {
            CorpusDoc d = corpus_doc(c, 0, i);
            for (size_t j = 0; j < d.n; j++) masked += d.mask[j];
        }
        printf("loss_tokens: %llu\n", (unsigned long long)masked);
    }
    printf("vocab_size: %d\ntokenizer: %s (crc32 %08x)\n", corpus_vocab_size(c), corpus_attr(c, "tokenizer"),
           corpus_tokenizer_checksum(c));
    printf("sources:\n");
    const char *s = corpus_attr(c, "sources");
    while (*s) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        printf("  %.*s\n", n, s);
        s += n + (nl ? 1 : 0);
    }
    const char *notes = corpus_attr(c, "notes");
    if (notes[0]) printf("notes:\n%s%s", notes, notes[strlen(notes) - 1] == '\n' ? "" : "\n");
    if (show > 0) {
        if (!tok_path) tok_path = corpus_attr(c, "tokenizer");
        Tokenizer *t = tokenizer_load(tok_path);
        corpus_check_tokenizer(c, t, tok_path);
        for (size_t i = 0; i < corpus_num_docs(c) && i < (size_t)show; i++)
            for (int f = 0; f < n_fields; f++) {
                CorpusDoc d = corpus_doc(c, f, i);
                printf("--- document %zu%s%s (%zu tokens, %llu bytes)\n", i, n_fields > 1 ? " " : "",
                       n_fields > 1 ? corpus_field_name(kind, f) : "", d.n, (unsigned long long)d.bytes);
                print_doc(t, d);
            }
        tokenizer_free(t);
    }
    corpus_close(c);
    return 0;
}
