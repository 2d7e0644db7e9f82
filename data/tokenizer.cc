// C wrapper over SentencePiece's C++ processor (see data/tokenizer.h).
#include "data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "common/check.h"
}

struct Tokenizer {
    sentencepiece::SentencePieceProcessor sp;
    std::string bytes;
    uint32_t crc;
    TokenizerSpecials specials;
};

static int lookup(const Tokenizer *t, const char *piece) {
    int id = t->sp.PieceToId(piece);
    if (id < 0 || id >= t->sp.GetPieceSize() || t->sp.IdToPiece(id) != piece) return -1;
    return id;
}

extern "C" Tokenizer *tokenizer_load_from_memory(const void *bytes, size_t len, const char *name) {
    Tokenizer *t = new Tokenizer();
    t->bytes.assign(static_cast<const char *>(bytes), len);
    auto status = t->sp.LoadFromSerializedProto(t->bytes);
    if (!status.ok())
        DIE("tokenizer %s: not a SentencePiece model (%s); train one with scripts/prepare_data.sh "
            "or pass a tokenizer.model", name, status.ToString().c_str());
    t->crc = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef *>(t->bytes.data()), static_cast<uInt>(len)));
    t->specials.pad = lookup(t, "<pad>");
    t->specials.eos = lookup(t, "<eos>");
    if (t->specials.eos < 0) t->specials.eos = lookup(t, "</s>");
    t->specials.bos = lookup(t, "<bos>");
    if (t->specials.bos < 0) t->specials.bos = lookup(t, "<s>");
    t->specials.unk = t->sp.unk_id();
    t->specials.start_of_turn = lookup(t, "<start_of_turn>");
    t->specials.end_of_turn = lookup(t, "<end_of_turn>");
    return t;
}

extern "C" Tokenizer *tokenizer_load(const char *path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        DIE("tokenizer %s: cannot open; run scripts/prepare_data.sh (or pass --tokenizer "
            "PATH.model)", path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string b = ss.str();
    return tokenizer_load_from_memory(b.data(), b.size(), path);
}

extern "C" void tokenizer_free(Tokenizer *t) { delete t; }

extern "C" int tokenizer_vocab_size(const Tokenizer *t) { return t->sp.GetPieceSize(); }

extern "C" TokenizerSpecials tokenizer_specials(const Tokenizer *t) { return t->specials; }

extern "C" int tokenizer_piece_id(const Tokenizer *t, const char *piece) { return lookup(t, piece); }

extern "C" const char *tokenizer_id_to_piece(const Tokenizer *t, int id) {
    if (id < 0 || id >= t->sp.GetPieceSize()) return "";
    return t->sp.IdToPiece(id).c_str();
}

extern "C" int tokenizer_is_control(const Tokenizer *t, int id) {
    return id >= 0 && id < t->sp.GetPieceSize() && t->sp.IsControl(id);
}

extern "C" uint32_t tokenizer_checksum(const Tokenizer *t) { return t->crc; }

extern "C" const void *tokenizer_model_bytes(const Tokenizer *t, size_t *len) {
    *len = t->bytes.size();
    return t->bytes.data();
}

extern "C" size_t tokenizer_encode(const Tokenizer *t, const char *text, size_t len, uint32_t **ids) {
    std::vector<int> v;
    *ids = nullptr;
    if (!t->sp.Encode(absl::string_view(text, len), &v).ok()) return static_cast<size_t>(-1);
    uint32_t *out = static_cast<uint32_t *>(mallocCheck(v.size() * sizeof(uint32_t)));
    for (size_t i = 0; i < v.size(); i++) out[i] = static_cast<uint32_t>(v[i]);
    *ids = out;
    return v.size();
}

extern "C" char *tokenizer_decode(const Tokenizer *t, const uint32_t *ids, size_t n, size_t *len) {
    const int vocab = t->sp.GetPieceSize();
    std::vector<int> v(n);
    for (size_t i = 0; i < n; i++) {
        CHECK(ids[i] < static_cast<uint32_t>(vocab), "decode: id %u outside the vocabulary (%d)",
              ids[i], vocab);
        v[i] = static_cast<int>(ids[i]);
    }
    std::string s;
    auto status = t->sp.Decode(v, &s);
    CHECK(status.ok(), "decode: %s", status.ToString().c_str());
    char *out = static_cast<char *>(mallocCheck(s.size() + 1));
    std::memcpy(out, s.data(), s.size());
    out[s.size()] = '\0';
    if (len) *len = s.size();
    return out;
}
