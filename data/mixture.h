/* Mixture sampler and packer: documents of several corpora → (B,T) training rows.
 *
 * The mixture. Every corpus receives its share of TOKENS: each row (PACK_STREAM) or document
 * (PACK_WHOLE) comes from the corpus with the smallest tokens_taken / weight (ties: the lower
 * index), a deterministic "deficit" rule whose shares match the weights to within one row.
 * Inside a corpus documents are visited in a permutation that is a function of (seed, corpus,
 * epoch); when it is exhausted the next epoch starts with a new permutation. Stage changes
 * (new weights) restart the token counters.
 *
 * Packing (PACK_STREAM, pretraining): each corpus's documents form a stream of tokens, cut
 * into rows of T inputs; a row's targets are its inputs shifted by one, and the corpus's next
 * row starts at that row's last target, so no token is lost. A document longer than the space
 * left continues in the corpus's next row (which starts mid-document: segment_pos does not
 * start at 0 — the model treats it as a continuation). The target of a document's last token
 * (the next document's first) is masked.
 *
 * Packing (PACK_WHOLE, instruction tuning and preference data): documents are never split;
 * one that does not fit in the space left starts the next row, the rest of the row is padding
 * (token <pad> = 0, its own segment, mask 0). A document longer than T+1 is truncated and
 * counted in `truncated`.
 *
 * Chat corpora: the target mask is the corpus loss_mask of the target token (model turns and
 * their <end_of_turn>); text corpora: 1 inside a document.
 *
 * Ranks: row r of the global stream goes to rank r mod world_size within each global batch
 * of world_size*B rows, so ranks read distinct rows and the global batch is the same rows
 * for any rank count. The cursor (a few integers per corpus) is saved in checkpoints. */
#ifndef GRIFFIN_MIXTURE_H
#define GRIFFIN_MIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h"

typedef enum { PACK_STREAM = 0, PACK_WHOLE = 1 } PackMode;

#define MIXTURE_MAX_CORPORA 32

typedef struct {
    uint64_t epoch, index;   /* position in the corpus's current permutation */
    int open;                /* a document of this corpus is half read */
    uint64_t doc, offset;    /* that document and its next token */
    uint64_t taken;          /* tokens taken in the current stage */
} CorpusCursor;

typedef struct {
    int n;                                    /* corpora */
    Corpus *corpora[MIXTURE_MAX_CORPORA];     /* not owned */
    double weight[MIXTURE_MAX_CORPORA];       /* current stage; 0 = unused */
    uint64_t seed;
    int shuffle;                              /* 0: documents in file order (evaluation) */
    PackMode mode;
    int T, B, rank, world;
    /* cursor: everything that resume needs */
    CorpusCursor cur[MIXTURE_MAX_CORPORA];
    int doc_corpus;                           /* PACK_WHOLE: corpus of the pending document, -1 none */
    uint64_t rows;                            /* rows produced (all ranks) */
    uint64_t truncated;                       /* PACK_WHOLE: documents cut at T+1 */
    /* permutation cache, one per corpus (regenerated from the cursor) */
    uint64_t *perm[MIXTURE_MAX_CORPORA];
    uint64_t perm_epoch[MIXTURE_MAX_CORPORA];
    uint64_t tokens_seen[MIXTURE_MAX_CORPORA];   /* tokens taken in the whole run, for reports */
    int masked[MIXTURE_MAX_CORPORA];             /* chat corpora: targets carry the loss mask */
    /* one row's T+1 tokens as read from the corpora (reads copy; see corpus_read) */
    uint32_t *row_tokens;
    uint8_t *row_mask;
    int *row_pos;
} Mixture;

/* A batch of rows for one rank: inputs, targets, positions [B,T] and target mask [B,T]. */
typedef struct {
    int B, T;
    int *tokens, *targets, *pos;
    uint8_t *mask;
    uint64_t ntargets;   /* unmasked targets */
} Batch;

void batch_alloc(Batch *b, int B, int T);
void batch_free(Batch *b);

void mixture_init(Mixture *m, Corpus *const *corpora, int n, uint64_t seed, int shuffle, PackMode mode,
                  int B, int T, int rank, int world);
void mixture_free(Mixture *m);
/* New stage weights (token shares, ≥ 0, at least one > 0); restarts the per-stage counters. */
void mixture_set_weights(Mixture *m, const double *weights);
/* Fills this rank's rows of the next global batch (world*B rows). */
void mixture_next_batch(Mixture *m, Batch *out);

/* Cursor as a flat uint64 array (for checkpoints): length mixture_state_len(n). */
size_t mixture_state_len(int n);
void mixture_get_state(const Mixture *m, uint64_t *state);
/* Restores a cursor saved by mixture_get_state with the same corpora; dies on a mismatch. */
void mixture_set_state(Mixture *m, const uint64_t *state, size_t len);

#endif
