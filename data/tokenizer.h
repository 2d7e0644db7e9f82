/* Tokenizer: a small C API over SentencePiece (data/tokenizer.cc wraps the C++ library).
 *
 * Any SentencePiece model works the same way: the project's own (scripts/prepare_data.sh,
 * 8k BPE, byte fallback) or a user-supplied one such as Gemma's tokenizer.model. The control
 * tokens are looked up by their piece names, so their ids come from the model itself:
 *
 *   piece             project model   Gemma's model
 *   <pad>             0               0
 *   <eos>             1               1
 *   <bos>             2               2
 *   <unk>             3               3
 *   <start_of_turn>   4               106
 *   <end_of_turn>     5               107
 *
 * SentencePiece never produces control pieces from text: "<bos>" in a string is encoded as
 * ordinary characters. Templates (data/chat.h) insert control ids directly.
 * Decoding drops control pieces; with byte fallback and identity normalisation (the project
 * model), decode(encode(s)) == s for any valid UTF-8 s without U+2581.
 * Encode and decode are safe to call from several threads on one Tokenizer. */
#ifndef GRIFFIN_TOKENIZER_H
#define GRIFFIN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Tokenizer Tokenizer;

/* Ids of the control pieces; -1 where the model has no such piece. */
typedef struct {
    int pad, eos, bos, unk, start_of_turn, end_of_turn;
} TokenizerSpecials;

/* Loads a tokenizer.model file; dies with a one-line message if it is missing or invalid. */
Tokenizer *tokenizer_load(const char *path);
/* Loads from the serialized model bytes (e.g. as stored in a checkpoint). */
Tokenizer *tokenizer_load_from_memory(const void *bytes, size_t len, const char *name);
void tokenizer_free(Tokenizer *t);

int tokenizer_vocab_size(const Tokenizer *t);
TokenizerSpecials tokenizer_specials(const Tokenizer *t);
/* Id of a piece, or -1 if the model does not have it. */
int tokenizer_piece_id(const Tokenizer *t, const char *piece);
/* The piece text of an id (valid while t lives); "" for an out-of-range id. */
const char *tokenizer_id_to_piece(const Tokenizer *t, int id);
int tokenizer_is_control(const Tokenizer *t, int id);

/* CRC-32 (zlib) of the tokenizer.model bytes: corpora and checkpoints record it. */
uint32_t tokenizer_checksum(const Tokenizer *t);
/* The serialized model bytes (valid while t lives). */
const void *tokenizer_model_bytes(const Tokenizer *t, size_t *len);

/* Encodes len bytes of UTF-8 text (no control tokens added). Returns the number of ids; *ids is
 * set to a malloc'd array owned by the caller (free it). Returns (size_t)-1 on invalid input,
 * with *ids = NULL. */
size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, uint32_t **ids);
/* Decodes ids to a malloc'd NUL-terminated string (control pieces dropped); *len (if not
 * NULL) gets its byte length. Dies on an id outside the vocabulary. */
char *tokenizer_decode(const Tokenizer *t, const uint32_t *ids, size_t n, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
