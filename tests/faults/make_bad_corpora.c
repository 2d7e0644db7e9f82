/* Writes the damaged corpora of the fault tests with the project's own corpus writer (which
 * stores what it is given): make_bad_corpora GOOD.h5 OUT_DIR
 * GOOD.h5 is a valid text corpus; its vocab_size and tokenizer checksum are copied so that
 * each file below is wrong in exactly one way:
 *   id_over_vocab.h5   a token id = vocab_size
 *   empty_doc.h5       a document with no tokens between two good ones
 *   zero_docs.h5       no documents at all
 *   other_tok.h5       good documents, another tokenizer's checksum
 *   id_late.h5         good documents for over 200 000 tokens (several chunks);
 *                      one in the last chunk has an id = vocab_size: the file opens (ids are
 *                      checked as chunks are read), training stops when that chunk is read */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/corpus.h"

static void write(const char *dir, const char *name, int vocab, uint32_t crc, const uint32_t *docs[],
                  const size_t *lens, int n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CorpusWriter *w = corpus_writer_open(path, CORPUS_TEXT, vocab, crc);
    for (int i = 0; i < n; i++) corpus_writer_add(w, 0, docs[i], NULL, lens[i], lens[i] * 4);
    corpus_writer_set_string(w, "tokenizer", "fault test");
    corpus_writer_close(w);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_bad_corpora GOOD.h5 OUT_DIR\n");
        return 2;
    }
    Corpus *good = corpus_open(argv[1], CORPUS_TEXT);
    const int vocab = corpus_vocab_size(good);
    const uint32_t crc = corpus_tokenizer_checksum(good);
    /* corpus_doc's pointers last until the next call for the field: keep copies */
    CorpusDoc d0 = corpus_doc(good, 0, 0);
    uint32_t *t0 = malloc(d0.n * sizeof *t0);
    memcpy(t0, d0.tokens, d0.n * sizeof *t0);
    d0.tokens = t0;
    CorpusDoc d1 = corpus_doc(good, 0, 1);
    const char *dir = argv[2];

    uint32_t *over = malloc(d0.n * sizeof *over);
    for (size_t i = 0; i < d0.n; i++) over[i] = d0.tokens[i];
    over[d0.n / 2] = (uint32_t)vocab;
    const uint32_t *a[2] = {d1.tokens, over};
    size_t la[2] = {d1.n, d0.n};
    write(dir, "id_over_vocab.h5", vocab, crc, a, la, 2);

    const uint32_t *b[3] = {d0.tokens, d0.tokens, d1.tokens};
    size_t lb[3] = {d0.n, 0, d1.n};
    write(dir, "empty_doc.h5", vocab, crc, b, lb, 3);

    write(dir, "zero_docs.h5", vocab, crc, NULL, NULL, 0);

    const uint32_t *c[2] = {d0.tokens, d1.tokens};
    size_t lc[2] = {d0.n, d1.n};
    write(dir, "other_tok.h5", vocab, crc ^ 0x5a5a5a5au, c, lc, 2);

    /* id_late.h5 */
    char path[4096];
    snprintf(path, sizeof path, "%s/id_late.h5", dir);
    CorpusWriter *w = corpus_writer_open(path, CORPUS_TEXT, vocab, crc);
    uint64_t tokens = 0;
    for (size_t i = 0; tokens < 200000; i++) {
        const CorpusDoc *d = i % 2 ? &d1 : &d0;
        int bad = tokens > 190000 && tokens < 190000 + d0.n + d1.n && d == &d0;
        corpus_writer_add(w, 0, bad ? over : d->tokens, NULL, d->n, d->n * 4);
        tokens += d->n;
    }
    corpus_writer_set_string(w, "tokenizer", "fault test");
    corpus_writer_close(w);

    free(over);
    free(t0);
    corpus_close(good);
    return 0;
}
