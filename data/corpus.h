/* Corpus files (.h5): tokenized documents, written by `griffin tokenize`, read by the
 * training loops. One format for four kinds of corpus.
 *
 * Root attributes
 *   format = "griffin-corpus"   version = 1 (int)     kind = text|chat|preference|prompt
 *   vocab_size (int)            tokenizer_crc32 (uint32, CRC-32 of the tokenizer.model bytes)
 *   tokenizer (path it was made with), sources (one line per input file: path, crc32, bytes,
 *   lines, documents), notes (free text, e.g. Debian package versions and checksums)
 * Datasets, per field (a field is one tokens/offsets pair; text and chat corpora have one
 * field stored at the root, preference corpora have groups prompt/ chosen/ rejected/, prompt
 * corpora a group prompt/):
 *   tokens       uint32 [n_tokens]
 *   doc_offsets  uint64 [n_docs + 1]   document i is tokens[doc_offsets[i] : doc_offsets[i+1]]
 *   doc_bytes    uint64 [n_docs]       UTF-8 bytes of the text the document's tokens stand for
 *                                      (chat: of the model turns only, the masked part), so
 *                                      evaluation can report bits per byte
 *   loss_mask    uint8  [n_tokens]     chat only: 1 on model-turn tokens and their <end_of_turn>
 * All chunked, shuffled, deflate-compressed and Fletcher32-checksummed; the root attribute
 * `documents` (uint64) repeats the count. The first 512 bytes (an HDF5 user block) hold a
 * CRC-32 of the whole file (data/h5guard.h).
 *
 * What the tokens of a document are (T = <start_of_turn>, E = <end_of_turn>, enc = encode):
 *   text        <bos> enc(text) <eos>
 *   chat        <bos> then per turn: T enc(role "\n") enc(content) E enc("\n")
 *               (role user or model; a system message is folded into the first user turn as
 *               system "\n\n" user; mask 1 on enc(content) E of model turns)
 *   prompt      <bos> T enc("user\n") enc(prompt) E enc("\n") T enc("model\n")
 *               i.e. a chat rendering ready for the model's reply
 *   preference  prompt/ as a prompt corpus; chosen/ and rejected/ hold enc(reply) E, so
 *               prompt ++ chosen is the chat rendering of the preferred conversation
 */
#ifndef GRIFFIN_CORPUS_H
#define GRIFFIN_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "data/tokenizer.h"

#define CORPUS_FORMAT "griffin-corpus"
#define CORPUS_VERSION 1

typedef enum { CORPUS_ANY = -1, CORPUS_TEXT = 0, CORPUS_CHAT, CORPUS_PREFERENCE, CORPUS_PROMPT } CorpusKind;

/* Field indices: text/chat have field 0 only; preference 0 prompt, 1 chosen, 2 rejected;
 * prompt 0 prompt. */
enum { CORPUS_FIELD_MAIN = 0, CORPUS_FIELD_PROMPT = 0, CORPUS_FIELD_CHOSEN = 1, CORPUS_FIELD_REJECTED = 2 };
#define CORPUS_MAX_FIELDS 3

const char *corpus_kind_name(CorpusKind kind);
/* CORPUS_ANY if the name is not a kind. */
CorpusKind corpus_kind_parse(const char *name);
int corpus_kind_num_fields(CorpusKind kind);
/* HDF5 group of a field ("" for the root). */
const char *corpus_field_name(CorpusKind kind, int field);

/* ---- reading ------------------------------------------------------------------------ */
typedef struct Corpus Corpus;

typedef struct {
    const uint32_t *tokens;
    const uint8_t *mask; /* NULL unless chat */
    size_t n;            /* number of tokens */
    uint64_t bytes;      /* UTF-8 bytes of the text behind it */
} CorpusDoc;

/* Opens and validates a corpus (format, version, kind, offsets, every id < vocab_size) and
 * loads it into memory. Dies with one line naming the file, the problem and how to regenerate
 * it. The whole-file checksum (data/h5guard.h) is checked before HDF5 sees the file.
 * want = CORPUS_ANY accepts every kind. */
Corpus *corpus_open(const char *path, CorpusKind want);
void corpus_close(Corpus *c);

CorpusKind corpus_kind(const Corpus *c);
size_t corpus_num_docs(const Corpus *c);
uint64_t corpus_num_tokens(const Corpus *c, int field);
uint64_t corpus_num_bytes(const Corpus *c, int field);
int corpus_vocab_size(const Corpus *c);
uint32_t corpus_tokenizer_checksum(const Corpus *c);
/* 1 if the file carries the whole-file checksum (data/h5guard.h), checked at open. */
int corpus_guarded(const Corpus *c);
/* Checks beyond those of corpus_open, for `griffin inspect --verify`: doc_bytes plausible
 * (no overflow; text documents stand for at least one byte), loss_mask values 0 or 1.
 * 0, or -1 with one line naming the dataset and the document in err. */
int corpus_verify(const Corpus *c, char *err, size_t errlen);
/* A string attribute (tokenizer, sources, notes); "" if absent. */
const char *corpus_attr(const Corpus *c, const char *name);
CorpusDoc corpus_doc(const Corpus *c, int field, size_t i);
/* Dies unless the corpus was made with this tokenizer (same checksum and vocab size). */
void corpus_check_tokenizer(const Corpus *c, const Tokenizer *t, const char *tokenizer_path);

/* The root "format" attribute of an HDF5 file copied into out ("" if it has none); returns -1
 * (out = "") if the file is missing or not HDF5. Lets `griffin inspect` tell file kinds apart. */
int h5_file_format(const char *path, char *out, size_t len);

/* ---- writing ------------------------------------------------------------------------ */
typedef struct CorpusWriter CorpusWriter;

/* Creates path + ".tmp"; nothing appears at path until corpus_writer_close. If the process
 * exits before that (a CHECK failing, say), the temporary file is removed. */
CorpusWriter *corpus_writer_open(const char *path, CorpusKind kind, int vocab_size,
                                 uint32_t tokenizer_crc32);
/* Appends one document to a field (mask: chat only, else NULL). Every field of a multi-field
 * kind must receive the same number of documents. */
void corpus_writer_add(CorpusWriter *w, int field, const uint32_t *tokens, const uint8_t *mask,
                       size_t n, uint64_t bytes);
void corpus_writer_set_string(CorpusWriter *w, const char *name, const char *value);
size_t corpus_writer_num_docs(const CorpusWriter *w, int field);
uint64_t corpus_writer_num_tokens(const CorpusWriter *w, int field);
/* Flushes, closes and renames the file into place. */
void corpus_writer_close(CorpusWriter *w);
/* Closes and removes the temporary file. */
void corpus_writer_abort(CorpusWriter *w);

#endif
