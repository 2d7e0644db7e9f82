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
    uint64_t bytes;      /* UTF-8 bytes of the text behind it (0: unknown, external corpora) */
} CorpusDoc;

/* How to read a corpus. Our own corpora need none of it; external ones (no header of ours)
 * take their vocabulary and document separator from the config. */
typedef struct {
    int vocab_size;     /* external corpora: every id must be below it (> 0 required) */
    int64_t eot;        /* llmc / nanogpt: the id that separates documents (-1: none given) */
    size_t cache_bytes; /* token-chunk cache per field (0: CORPUS_DEFAULT_CACHE_BYTES, 32 MiB) */
    size_t chunk_tokens;/* tokens per cached chunk (0: the HDF5 dataset's chunk, or 65536) */
} CorpusOptions;

/* Opens a corpus without loading its tokens. spec is one of
 *   PATH.h5               our own corpus (format above)
 *   megatron:PREFIX       Megatron-LM indexed dataset PREFIX.idx + PREFIX.bin
 *   llmc:GLOB             llm.c token shards (all files the pattern matches, in name order)
 *   nanogpt:FILE          headerless little-endian uint16 tokens (nanoGPT's train.bin)
 * (formats and how documents are found: data/corpus_external.c). What is checked at open is
 * what is cheap: the header, version, kind, counts, offsets and sizes against the file; token
 * ids are checked as each chunk is first read (a bad one ends the process with one line naming
 * the file and the document) and all at once by corpus_verify. Memory: 16 bytes per document
 * per field plus the chunk cache. Dies with one line naming the file, the field and how to
 * regenerate it. The whole-file checksum of our corpora (data/h5guard.h) is checked before
 * HDF5 sees the file. want = CORPUS_ANY accepts every kind (external corpora are text). */
Corpus *corpus_open(const char *spec, CorpusKind want);
Corpus *corpus_open_ex(const char *spec, CorpusKind want, const CorpusOptions *o);
void corpus_close(Corpus *c);

/* "griffin-corpus", "megatron", "llmc" or "nanogpt" */
const char *corpus_format(const Corpus *c);
/* 1 for a spec with an external format prefix (megatron:, llmc:, nanogpt:) */
int corpus_spec_is_external(const char *spec);
CorpusKind corpus_kind(const Corpus *c);
size_t corpus_num_docs(const Corpus *c);
uint64_t corpus_num_tokens(const Corpus *c, int field);
/* 0 when unknown (external corpora): bits per byte is then unavailable */
uint64_t corpus_num_bytes(const Corpus *c, int field);
int corpus_vocab_size(const Corpus *c);
uint32_t corpus_tokenizer_checksum(const Corpus *c);
/* 1 for megatron, llmc and nanogpt corpora (no tokenizer identity, no byte counts) */
int corpus_is_external(const Corpus *c);
/* The largest id in the chunks read so far (after corpus_verify: in the corpus); -1 if none. */
int64_t corpus_max_id(const Corpus *c);
/* 1 if the file carries the whole-file checksum (data/h5guard.h), checked at open. */
int corpus_guarded(const Corpus *c);
/* Every check, for `griffin inspect --verify`: reads every token (ids < vocab_size), loss_mask
 * values 0 or 1, doc_bytes plausible (no overflow; text documents stand for at least one
 * byte). 0, or -1 with one line naming the dataset and the document in err. */
int corpus_verify(Corpus *c, char *err, size_t errlen);
/* A string attribute (tokenizer, sources, notes); "" if absent. */
const char *corpus_attr(const Corpus *c, const char *name);
/* Length of document i of a field, from the index (reads no tokens). */
size_t corpus_doc_len(const Corpus *c, int field, size_t i);
/* Tokens [offset, offset + n) of document i of a field copied into tok (and mask, if not NULL
 * and the corpus is chat). Dies on a bad id or a read error, naming the file and document. */
void corpus_read(Corpus *c, int field, size_t i, size_t offset, size_t n, uint32_t *tok, uint8_t *mask);
/* Document i of a field. The pointers stay valid until the next corpus_doc call for the same
 * field of the same corpus. */
CorpusDoc corpus_doc(Corpus *c, int field, size_t i);
/* Dies unless the corpus was made with this tokenizer (same checksum and vocab size). An
 * external corpus carries no tokenizer: the tokenizer's vocabulary must then cover the ids,
 * and becomes the bound they are checked against if it is the smaller. */
void corpus_check_tokenizer(Corpus *c, const Tokenizer *t, const char *tokenizer_path);
/* External corpora record no byte counts. corpus_decode_bytes fills bytes[n_docs] with the
 * UTF-8 bytes each document decodes to with t (one pass over the tokens; t must be the corpus's
 * tokenizer: corpus_check_tokenizer is applied first); corpus_set_doc_bytes gives them to the
 * corpus (copied), so bits per byte becomes available. corpus_index_crc is a CRC-32 of the
 * document index, to recognise the corpus such counts were computed for. */
void corpus_decode_bytes(Corpus *c, const Tokenizer *t, uint64_t *bytes);
void corpus_set_doc_bytes(Corpus *c, const uint64_t *bytes);
uint32_t corpus_index_crc(const Corpus *c);
/* Bytes this corpus holds in memory now (index, caches, buffers): the figure of
 * `griffin bench data`. */
size_t corpus_resident_bytes(const Corpus *c);
/* Chunks read from disk / served from the cache so far, summed over fields. */
void corpus_cache_stats(const Corpus *c, uint64_t *loads, uint64_t *hits);

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
