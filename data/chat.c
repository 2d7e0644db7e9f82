#include "data/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"

void tokbuf_push_n(TokenBuf *b, const uint32_t *ids, size_t n, uint8_t mask) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->ids = realloc(b->ids, cap * sizeof(uint32_t));
        b->mask = realloc(b->mask, cap);
        CHECK(b->ids && b->mask, "out of memory growing a token buffer to %zu", cap);
        b->cap = cap;
    }
    memcpy(b->ids + b->n, ids, n * sizeof(uint32_t));
    memset(b->mask + b->n, mask, n);
    b->n += n;
}

void tokbuf_push(TokenBuf *b, uint32_t id, uint8_t mask) { tokbuf_push_n(b, &id, 1, mask); }

void tokbuf_free(TokenBuf *b) {
    free(b->ids);
    free(b->mask);
    memset(b, 0, sizeof *b);
}

int chat_role_parse(const char *name) {
    if (!strcmp(name, "user")) return CHAT_USER;
    if (!strcmp(name, "model") || !strcmp(name, "assistant")) return CHAT_MODEL;
    if (!strcmp(name, "system")) return CHAT_SYSTEM;
    return -1;
}

void chat_require_specials(const Tokenizer *t, const char *tokenizer_path) {
    TokenizerSpecials s = tokenizer_specials(t);
    CHECK(s.bos >= 0 && s.start_of_turn >= 0 && s.end_of_turn >= 0,
          "tokenizer %s lacks <bos>, <start_of_turn> or <end_of_turn> as pieces; chat, prompt and "
          "preference corpora need them (scripts/prepare_data.sh trains such a tokenizer)", tokenizer_path);
}

const char *chat_encode_append(const Tokenizer *t, const char *text, size_t len, uint8_t mask, TokenBuf *out) {
    uint32_t *ids;
    size_t n = tokenizer_encode(t, text, len, &ids);
    if (n == (size_t)-1) return "text could not be encoded";
    tokbuf_push_n(out, ids, n, mask);
    free(ids);
    return NULL;
}

/* <start_of_turn>{role}\n{content}<end_of_turn>\n ; content and <end_of_turn> get content_mask */
static const char *render_turn(const Tokenizer *t, const char *role, const char *a, size_t alen,
                               const char *b, size_t blen, uint8_t content_mask, TokenBuf *out) {
    TokenizerSpecials s = tokenizer_specials(t);
    const char *e;
    tokbuf_push(out, (uint32_t)s.start_of_turn, 0);
    if ((e = chat_encode_append(t, role, strlen(role), 0, out))) return e;
    if (b) { /* system folded into user: a "\n\n" b, encoded as one text */
        char *joined = mallocCheck(alen + blen + 2);
        memcpy(joined, a, alen);
        memcpy(joined + alen, "\n\n", 2);
        memcpy(joined + alen + 2, b, blen);
        e = chat_encode_append(t, joined, alen + blen + 2, content_mask, out);
        free(joined);
    } else {
        e = chat_encode_append(t, a, alen, content_mask, out);
    }
    if (e) return e;
    tokbuf_push(out, (uint32_t)s.end_of_turn, content_mask);
    return chat_encode_append(t, "\n", 1, 0, out);
}

const char *chat_render(const Tokenizer *t, const ChatMessage *msgs, size_t n, TokenBuf *out,
                        char *err, size_t errlen) {
    size_t i = 0;
    const ChatMessage *system = NULL;
    if (n > 0 && msgs[0].role == CHAT_SYSTEM) system = &msgs[i++];
    if (i == n) return "no user or model turn";
    int n_model = 0;
    for (size_t j = i; j < n; j++) {
        ChatRole want = (j - i) % 2 == 0 ? CHAT_USER : CHAT_MODEL;
        if (msgs[j].role != want) {
            snprintf(err, errlen, "message %zu: expected a %s turn (turns alternate user, model, ...; "
                     "system only first)", j, want == CHAT_USER ? "user" : "model");
            return err;
        }
        if (msgs[j].len == 0) {
            snprintf(err, errlen, "message %zu: empty content", j);
            return err;
        }
        n_model += msgs[j].role == CHAT_MODEL;
    }
    if (n_model == 0) return "no model turn to learn from";
    tokbuf_push(out, (uint32_t)tokenizer_specials(t).bos, 0);
    for (size_t j = i; j < n; j++) {
        const char *e;
        if (msgs[j].role == CHAT_USER && system && j == i)
            e = render_turn(t, "user\n", system->text, system->len, msgs[j].text, msgs[j].len, 0, out);
        else if (msgs[j].role == CHAT_USER)
            e = render_turn(t, "user\n", msgs[j].text, msgs[j].len, NULL, 0, 0, out);
        else
            e = render_turn(t, "model\n", msgs[j].text, msgs[j].len, NULL, 0, 1, out);
        if (e) return e;
    }
    return NULL;
}

const char *chat_render_prompt(const Tokenizer *t, const char *prompt, size_t len, TokenBuf *out) {
    if (len == 0) return "empty prompt";
    tokbuf_push(out, (uint32_t)tokenizer_specials(t).bos, 0);
    const char *e = render_turn(t, "user\n", prompt, len, NULL, 0, 0, out);
    if (e) return e;
    tokbuf_push(out, (uint32_t)tokenizer_specials(t).start_of_turn, 0);
    return chat_encode_append(t, "model\n", 6, 0, out);
}

const char *chat_render_reply(const Tokenizer *t, const char *reply, size_t len, TokenBuf *out) {
    if (len == 0) return "empty reply";
    const char *e = chat_encode_append(t, reply, len, 1, out);
    if (e) return e;
    tokbuf_push(out, (uint32_t)tokenizer_specials(t).end_of_turn, 1);
    return NULL;
}
