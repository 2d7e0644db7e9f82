/* Chat template and loss masks (Gemma's turn format, see docs/design.md "Chat format"):
 *   <bos><start_of_turn>user\n{user}<end_of_turn>\n<start_of_turn>model\n{reply}<end_of_turn>\n
 * Control tokens are inserted as single ids. Each segment is encoded on its own — the header
 * "user\n" / "model\n", the content, the "\n" after <end_of_turn> — so a prompt renders to the
 * same ids in chat, prompt and preference corpora. The loss mask is 1 on a model turn's
 * content and its closing <end_of_turn>, 0 elsewhere. A system message (allowed only first)
 * is folded into the first user turn as system "\n\n" user. Turns must alternate user, model,
 * user, ... starting with user. */
#ifndef GRIFFIN_CHAT_H
#define GRIFFIN_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "data/tokenizer.h"

typedef enum { CHAT_USER = 0, CHAT_MODEL, CHAT_SYSTEM } ChatRole;

typedef struct {
    ChatRole role;
    const char *text;
    size_t len;
} ChatMessage;

/* Growable token (and mask) buffer. */
typedef struct {
    uint32_t *ids;
    uint8_t *mask;
    size_t n, cap;
} TokenBuf;

void tokbuf_push(TokenBuf *b, uint32_t id, uint8_t mask);
void tokbuf_push_n(TokenBuf *b, const uint32_t *ids, size_t n, uint8_t mask);
void tokbuf_free(TokenBuf *b);

/* "user", "model" ("assistant" accepted as an alias) or "system"; -1 otherwise. */
int chat_role_parse(const char *name);

/* Dies unless the tokenizer has <bos>, <start_of_turn> and <end_of_turn>. */
void chat_require_specials(const Tokenizer *t, const char *tokenizer_path);

/* Each returns NULL on success, or an error message (static or in err). Appends to out. */
const char *chat_render(const Tokenizer *t, const ChatMessage *msgs, size_t n, TokenBuf *out,
                        char *err, size_t errlen);
/* <bos><start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n */
const char *chat_render_prompt(const Tokenizer *t, const char *prompt, size_t len, TokenBuf *out);
/* {reply}<end_of_turn> */
const char *chat_render_reply(const Tokenizer *t, const char *reply, size_t len, TokenBuf *out);
/* encodes text and appends it with the given mask value */
const char *chat_encode_append(const Tokenizer *t, const char *text, size_t len, uint8_t mask, TokenBuf *out);

#endif
