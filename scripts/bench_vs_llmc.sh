#!/usr/bin/env bash
# griffin.c against karpathy/llm.c's CPU trainer (train_gpt2.c) on a training step.
#
#   scripts/bench_vs_llmc.sh --llmc DIR [--threads N] [--rounds R] [--batch B] [--seq T]
#                            [--steps N] [--warmup N] [--out DIR] [--griffin PATH]
#                            [--preset tiny|small|2b] [--family F]
#                            [--channels C] [--layers L] [--heads NH] [--vocab V]
#
# --llmc DIR is a checkout of github.com/karpathy/llm.c, which this project does not ship (and
# nothing of it is ever committed here); it is only read. Its train_gpt2.c (CPU, float32,
# OpenMP) is copied with llmc/*.h and the Makefile into DIR_OUT/llmc-build/ and compiled
# unchanged, with the flags its Makefile uses for `make train_gpt2` on this machine (found by
# `make -n`; CC as for make), together with a generated main() that takes the place of
# llm.c's own (compiled out with TESTING, as llm.c's test_gpt2.c does): it loads a checkpoint
# this script writes, draws one random batch of B×T tokens, and times WARM-UP + N steps of
# gpt2_forward, gpt2_zero_grad, gpt2_backward, gpt2_update (AdamW, lr 1e-4, as llm.c's loop)
# — no data files, no validation, no sampling — printing each step's milliseconds.
#
# The GPT-2 (default C=512, L=8, NH=8 so head dim 64, V=8192, maxT=T) matches griffin's
# `small` preset in width, depth, vocabulary and parameter count (~30 M); its checkpoint
# (llm.c's format: 256 int32 header, magic 20240326, version 3, maxT, V, L, NH, C, Vp, then the
# float32 tensors in fill_in_parameter_sizes order) is random, initialised as llm.c's
# gpt2_build_from_random: matrices and embeddings N(0, 0.02), the two projections into the
# residual stream N(0, 0.02/sqrt(2L)), layer-norm weights 1, biases 0 (numpy if available,
# else Python's random). griffin runs `griffin bench train --preset P` (default small) with the
# same batch, sequence length, threads (OMP_NUM_THREADS for both), warm-up and timed steps.
# The two alternate — griffin, llm.c, griffin, llm.c, … for R rounds — so that machine noise
# hits both; each run reports its median step, and the summary takes the median over rounds.
#
# FLOPs: griffin's from its JSON (mflop_per_token). The GPT-2's, counted the same way (matmuls
# of forward+backward = 3× forward = 6 FLOPs per weight per token, attention scores and
# weighted values over the full T as griffin counts its attention band):
#     FLOP/token = 6·(12·L·C² + C·V) + 12·L·C·T
# (qkv 3C², attention projection C², MLP 4C² + 4C², tied classifier C·V; no embeddings,
# biases or norms). tokens/s = B·T / median step; GFLOP/s = tokens/s × FLOP/token.
#
# Writes DIR/runs.csv (one row per run), DIR/summary.json, the per-run JSON and logs, and keeps
# the build and the checkpoint in DIR/llmc-build/ (the checkpoint is reused by a later run of
# the same shape; delete it to reclaim its 4·params bytes). DIR defaults to
# runs/bench_vs_llmc/<preset>-B<B>-T<T>-<threads>t. GRIFFIN (env) or --griffin names the
# binary (default build/griffin), LLMC (env) the checkout, PYTHON the interpreter
# (default /usr/bin/python3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

THREADS="$(nproc)" ROUNDS=3 STEPS=5 WARMUP=1 BATCH=8 SEQ=256 OUT="" PRESET=small FAMILY=""
CHANNELS=512 LAYERS=8 HEADS=8 VOCAB=8192
LLMC="${LLMC:-}"
GRIFFIN="${GRIFFIN:-$ROOT/build/griffin}"
PYTHON="${PYTHON:-/usr/bin/python3}"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
die() { echo "bench_vs_llmc: $*" >&2; exit 2; }
need() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --llmc) need "$@"; LLMC="$2"; shift 2 ;;
        --threads) need "$@"; THREADS="$2"; shift 2 ;;
        --rounds) need "$@"; ROUNDS="$2"; shift 2 ;;
        --steps) need "$@"; STEPS="$2"; shift 2 ;;
        --warmup) need "$@"; WARMUP="$2"; shift 2 ;;
        --batch) need "$@"; BATCH="$2"; shift 2 ;;
        --seq) need "$@"; SEQ="$2"; shift 2 ;;
        --out) need "$@"; OUT="$2"; shift 2 ;;
        --griffin) need "$@"; GRIFFIN="$2"; shift 2 ;;
        --preset) need "$@"; PRESET="$2"; shift 2 ;;
        --family) need "$@"; FAMILY="$2"; shift 2 ;;
        --channels) need "$@"; CHANNELS="$2"; shift 2 ;;
        --layers) need "$@"; LAYERS="$2"; shift 2 ;;
        --heads) need "$@"; HEADS="$2"; shift 2 ;;
        --vocab) need "$@"; VOCAB="$2"; shift 2 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
for v in THREADS ROUNDS STEPS BATCH SEQ CHANNELS LAYERS HEADS VOCAB; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer (got '${!v}')"
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "--warmup must be a non-negative integer (got '$WARMUP')"
(( SEQ >= 2 )) || die "--seq must be at least 2"
(( VOCAB >= 2 )) || die "--vocab must be at least 2"
(( CHANNELS % HEADS == 0 )) || die "--heads ($HEADS) must divide --channels ($CHANNELS)"
case "$PRESET" in tiny|small|2b) ;; *) die "--preset must be tiny, small or 2b (got '$PRESET')" ;; esac
case "$FAMILY" in ""|griffin|hawk|transformer) ;; *) die "--family must be griffin, hawk or transformer" ;; esac
[[ -n "$LLMC" ]] || die "--llmc DIR is required: a checkout of github.com/karpathy/llm.c (not shipped with this project)"
[[ -d "$LLMC" ]] || die "--llmc $LLMC is not a directory"
LLMC="$(cd "$LLMC" && pwd)"
for f in train_gpt2.c Makefile llmc/utils.h; do
    [[ -f "$LLMC/$f" ]] || die "$LLMC has no $f: is it a checkout of github.com/karpathy/llm.c?"
done
grep -q 'void gpt2_update(GPT2 \*model' "$LLMC/train_gpt2.c" \
    || die "$LLMC/train_gpt2.c has no gpt2_update(GPT2 *model, ...): not the llm.c CPU trainer this script knows"
[[ -x "$GRIFFIN" ]] || die "no griffin binary at $GRIFFIN (build it, or pass --griffin PATH)"
command -v "$PYTHON" > /dev/null || die "no Python at $PYTHON (set PYTHON)"
command -v make > /dev/null || die "make is needed to read llm.c's compile flags from its Makefile"

OUT="${OUT:-$ROOT/runs/bench_vs_llmc/$PRESET${FAMILY:+-$FAMILY}-B$BATCH-T$SEQ-${THREADS}t}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
BUILD="$OUT/llmc-build"
rm -f "$OUT"/griffin-*.json "$OUT"/griffin-*.log "$OUT"/llmc-*.json "$OUT"/llmc-*.log "$OUT"/runs.csv "$OUT"/summary.json

# ---- build llm.c's trainer: a copy, never the user's checkout -----------------------------------
rm -rf "$BUILD/src"
mkdir -p "$BUILD/src/llmc"
cp "$LLMC/train_gpt2.c" "$LLMC/Makefile" "$BUILD/src/"
cp "$LLMC"/llmc/*.h "$BUILD/src/llmc/"
LLMC_COMMIT="$(git -C "$LLMC" rev-parse HEAD 2>/dev/null || echo unknown)"
LLMC_SHA256="$(sha256sum "$LLMC/train_gpt2.c" | cut -d' ' -f1)"
cat > "$BUILD/src/bench_main.c" <<'EOF'
/* generated by griffin.c's scripts/bench_vs_llmc.sh — times llm.c's CPU training step.
   train_gpt2.c is included unchanged; its main() (and sampler) are compiled out by TESTING,
   as llm.c's own test_gpt2.c does (main is also renamed, for versions without the guard).
   usage: bench_llmc CHECKPOINT B T WARMUP STEPS JSON */
#define TESTING
#define main llmc_original_main
#include "train_gpt2.c"
#undef main
#ifdef OMP
#include <omp.h>
#endif

static double bench_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static uint32_t bench_rng(uint64_t *s) { /* xorshift*, as llm.c's random_u32 */
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s CHECKPOINT B T WARMUP STEPS JSON\n", argv[0]);
        return 2;
    }
    const char *ckpt = argv[1], *json = argv[6];
    int B = atoi(argv[2]), T = atoi(argv[3]), warmup = atoi(argv[4]), steps = atoi(argv[5]);
    if (B < 1 || T < 2 || warmup < 0 || steps < 1) { fprintf(stderr, "bench_llmc: bad B, T, WARMUP or STEPS\n"); return 2; }
    GPT2 model;
    gpt2_build_from_checkpoint(&model, ckpt);
    if (T > model.config.max_seq_len) {
        fprintf(stderr, "bench_llmc: T=%d exceeds the checkpoint's max_seq_len %d\n", T, model.config.max_seq_len);
        return 2;
    }
    int threads = 1;
#ifdef OMP
    threads = omp_get_max_threads();
#endif
    size_t N = (size_t)B * T;
    int *inputs = (int *)mallocCheck(N * sizeof(int)), *targets = (int *)mallocCheck(N * sizeof(int));
    uint64_t rng = 1337;
    for (size_t i = 0; i < N; i++) {
        inputs[i] = (int)(bench_rng(&rng) % (uint32_t)model.config.vocab_size);
        targets[i] = (int)(bench_rng(&rng) % (uint32_t)model.config.vocab_size);
    }
    double *tot = (double *)mallocCheck(steps * sizeof(double)), *fwd = (double *)mallocCheck(steps * sizeof(double));
    double *tot_sorted = (double *)mallocCheck(steps * sizeof(double));
    float first_loss = 0.0f;
    for (int s = -warmup; s < steps; s++) {
        double t0 = bench_now_s();
        gpt2_forward(&model, inputs, targets, B, T);
        double t1 = bench_now_s();
        gpt2_zero_grad(&model);
        gpt2_backward(&model);
        gpt2_update(&model, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, s + warmup + 1);
        double t2 = bench_now_s();
        if (s == -warmup) first_loss = model.mean_loss;
        printf("step %d%s: train loss %f (took %.3f ms; forward %.3f ms)\n", s + warmup + 1,
               s < 0 ? " (warm-up)" : "", model.mean_loss, 1e3 * (t2 - t0), 1e3 * (t1 - t0));
        if (s >= 0) tot[s] = t2 - t0, fwd[s] = t1 - t0;
    }
    for (int s = 0; s < steps; s++) tot_sorted[s] = tot[s];
    qsort(tot_sorted, steps, sizeof(double), bench_cmp);
    qsort(fwd, steps, sizeof(double), bench_cmp);
    double med = tot_sorted[steps / 2], medf = fwd[steps / 2];
    printf("median step %.3f ms (forward %.3f ms), %.1f tokens/s, %d threads\n", 1e3 * med, 1e3 * medf, N / med, threads);
    FILE *f = fopenCheck(json, "w");
    fprintf(f, "{\"model\":\"gpt2\",\"parameters\":%zu,\"batch\":%d,\"seq\":%d,\"threads\":%d,"
               "\"channels\":%d,\"layers\":%d,\"heads\":%d,\"vocab\":%d,\"padded_vocab\":%d,\"max_seq_len\":%d,"
               "\"steps\":%d,\"warmup\":%d,\"step_ms\":%.3f,\"forward_ms\":%.3f,\"tokens_per_s\":%.1f,"
               "\"first_loss\":%.6f,\"last_loss\":%.6f,\"step_ms_all\":[",
            model.num_parameters, B, T, threads, model.config.channels, model.config.num_layers,
            model.config.num_heads, model.config.vocab_size, model.config.padded_vocab_size,
            model.config.max_seq_len, steps, warmup, 1e3 * med, 1e3 * medf, N / med, first_loss, model.mean_loss);
    for (int s = 0; s < steps; s++) fprintf(f, "%s%.3f", s ? "," : "", 1e3 * tot[s]);
    fprintf(f, "]}\n");
    fcloseCheck(f);
    free(inputs), free(targets), free(tot), free(fwd), free(tot_sorted);
    gpt2_free(&model);
    return 0;
}
EOF
# the compile line llm.c's Makefile would run for `make train_gpt2` here, aimed at our main
MAKE_LINE="$(cd "$BUILD/src" && make -n train_gpt2 2>/dev/null | grep -E '(^|[[:space:]])train_gpt2\.c([[:space:]]|$)' | head -n 1 || true)"
rm -rf "$BUILD/src/build"   # the Makefile's $(shell mkdir -p build)
[[ -n "$MAKE_LINE" ]] || die "could not read the train_gpt2 compile line from $LLMC/Makefile (make -n train_gpt2)"
read -r -a WORDS <<< "$MAKE_LINE"
CMD=()
for ((i = 0; i < ${#WORDS[@]}; i++)); do
    w="${WORDS[i]}"
    if [[ "$w" == train_gpt2.c ]]; then CMD+=(bench_main.c)
    elif [[ "$w" == -o && "${WORDS[i+1]:-}" == train_gpt2 ]]; then CMD+=(-o ../bench_llmc); i=$((i + 1))
    else CMD+=("$w"); fi
done
[[ " ${CMD[*]} " == *" -o ../bench_llmc "* ]] || CMD+=(-o ../bench_llmc)
COMPILE="${CMD[*]}"
echo "bench_vs_llmc: building llm.c's train_gpt2.c (commit ${LLMC_COMMIT:0:12}, sha256 ${LLMC_SHA256:0:12}) as its Makefile does:"
echo "  $COMPILE"
(cd "$BUILD/src" && "${CMD[@]}") > "$BUILD/build.log" 2>&1 || { cat "$BUILD/build.log" >&2; die "building llm.c failed (log above, $BUILD/build.log)"; }
LLMC_BIN="$BUILD/bench_llmc"

# ---- the checkpoint: random, GPT-2 initialisation, llm.c's format (reused for the same shape) ---
CKPT="$BUILD/gpt2-C$CHANNELS-L$LAYERS-NH$HEADS-V$VOCAB-T$SEQ.bin"
if [[ ! -s "$CKPT" ]]; then
    echo "bench_vs_llmc: writing the random checkpoint $CKPT"
    "$PYTHON" - "$CKPT.tmp" "$CHANNELS" "$LAYERS" "$HEADS" "$VOCAB" "$SEQ" <<'EOF'
import array, math, random, sys
path, C, L, NH, V, maxT = sys.argv[1], *map(int, sys.argv[2:])
Vp = (V + 127) // 128 * 128                     # llm.c pads the vocabulary to a multiple of 128
header = array.array("i", [0] * 256)
header[0:8] = array.array("i", [20240326, 3, maxT, V, L, NH, C, Vp])
try:
    import numpy as np
    rng = np.random.default_rng(42)
    def normal(f, n, std):
        for k in range(0, n, 1 << 22):
            (rng.standard_normal(min(1 << 22, n - k), dtype=np.float32) * np.float32(std)).tofile(f)
except ImportError:
    rng = random.Random(42)
    def normal(f, n, std):
        g = rng.gauss
        for k in range(0, n, 1 << 20):
            array.array("f", [g(0.0, std) for _ in range(min(1 << 20, n - k))]).tofile(f)
def const(f, n, x):
    for k in range(0, n, 1 << 20):
        (array.array("f", [x]) * min(1 << 20, n - k)).tofile(f)
std, res = 0.02, 0.02 / math.sqrt(2 * L)        # llm.c's gpt2_build_from_random (train_gpt2.cu)
# (name, elements, "normal" std or constant) in fill_in_parameter_sizes order
N, K = "normal", "const"
tensors = [("wte", V * C, N, std), ("wte padding", (Vp - V) * C, K, 0.0), ("wpe", maxT * C, N, std),
           ("ln1w", L * C, K, 1.0), ("ln1b", L * C, K, 0.0), ("qkvw", L * 3 * C * C, N, std),
           ("qkvb", L * 3 * C, K, 0.0), ("attprojw", L * C * C, N, res), ("attprojb", L * C, K, 0.0),
           ("ln2w", L * C, K, 1.0), ("ln2b", L * C, K, 0.0), ("fcw", L * 4 * C * C, N, std),
           ("fcb", L * 4 * C, K, 0.0), ("fcprojw", L * C * 4 * C, N, res), ("fcprojb", L * C, K, 0.0),
           ("lnfw", C, K, 1.0), ("lnfb", C, K, 0.0)]
with open(path, "wb") as f:
    header.tofile(f)
    for name, n, kind, x in tensors:
        (normal if kind == N else const)(f, n, x)
print("  %d parameters (C=%d L=%d NH=%d V=%d Vp=%d maxT=%d)" % (sum(t[1] for t in tensors), C, L, NH, V, Vp, maxT))
EOF
    mv "$CKPT.tmp" "$CKPT"
fi

# ---- alternate the two -------------------------------------------------------------------------
GRIFFIN_ARGS=(--preset "$PRESET" --batch "$BATCH" --seq "$SEQ" --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP")
[[ -z "$FAMILY" ]] || GRIFFIN_ARGS+=(--family "$FAMILY")
# float32 on both sides (llm.c's CPU trainer is float32 only)
if "$GRIFFIN" bench train --help 2>/dev/null | grep -q -- --precision; then GRIFFIN_ARGS+=(--precision fp32); fi
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
echo "bench_vs_llmc: griffin $PRESET${FAMILY:+ ($FAMILY)} vs llm.c GPT-2 C=$CHANNELS L=$LAYERS NH=$HEADS V=$VOCAB;" \
     "B=$BATCH T=$SEQ, $THREADS threads, $ROUNDS round(s) × (griffin, llm.c), $STEPS timed steps after $WARMUP warm-up each"
for ((r = 1; r <= ROUNDS; r++)); do
    "$GRIFFIN" bench train "${GRIFFIN_ARGS[@]}" --json "$OUT/griffin-$r.json" > "$OUT/griffin-$r.log" 2>&1 \
        || { cat "$OUT/griffin-$r.log" >&2; die "griffin failed in round $r ($OUT/griffin-$r.log)"; }
    "$LLMC_BIN" "$CKPT" "$BATCH" "$SEQ" "$WARMUP" "$STEPS" "$OUT/llmc-$r.json" > "$OUT/llmc-$r.log" 2>&1 \
        || { cat "$OUT/llmc-$r.log" >&2; die "llm.c failed in round $r ($OUT/llmc-$r.log)"; }
    "$PYTHON" - "$OUT" "$r" <<'EOF'
import json, sys
out, r = sys.argv[1], sys.argv[2]
line = "  round %s:" % r
for side, label in (("griffin", "griffin.c"), ("llmc", "llm.c")):
    d = json.load(open("%s/%s-%s.json" % (out, side, r)))
    line += "   %s %9.1f tokens/s (%8.1f ms/step)" % (label, d["tokens_per_s"], d["step_ms"])
print(line)
EOF
done

"$PYTHON" - "$OUT" "$ROUNDS" "$COMPILE" "$LLMC" "$LLMC_COMMIT" "$LLMC_SHA256" "$CKPT" <<'EOF'
import csv, json, statistics, sys
out, rounds, compile_cmd, llmc_dir, llmc_commit, llmc_sha, ckpt = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
runs = {s: [json.load(open("%s/%s-%d.json" % (out, s, r))) for r in range(1, rounds + 1)] for s in ("griffin", "llmc")}
g0, l0 = runs["griffin"][0], runs["llmc"][0]
for key in ("batch", "seq", "threads"):
    if g0[key] != l0[key]:
        sys.exit("bench_vs_llmc: the sides differ in %s: griffin %s, llm.c %s" % (key, g0[key], l0[key]))
C, L, V, T = l0["channels"], l0["layers"], l0["vocab"], l0["seq"]
gpt2_flop = 6.0 * (12 * L * C * C + C * V) + 12.0 * L * C * T      # see the script's header
llmc_convention = 6.0 * l0["parameters"] + 6.0 * L * C * T          # llm.c's train_gpt2.cu gpt2_estimate_mfu
flop = {"griffin": g0["mflop_per_token"] * 1e6, "llmc": gpt2_flop}
for s in runs:
    for r, d in enumerate(runs[s], 1):
        d["round"] = r
with open(out + "/runs.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["round", "side", "tokens_per_s", "step_ms", "forward_ms", "mflop_per_token", "gflops"])
    for r in range(rounds):
        for s in runs:
            d = runs[s][r]
            w.writerow([d["round"], s] + ["%.6g" % x for x in (
                d["tokens_per_s"], d["step_ms"], d["forward_ms"], flop[s] / 1e6, d["tokens_per_s"] * flop[s] / 1e9)])
med = lambda s, key: statistics.median(d[key] for d in runs[s])
side = {}
for s in runs:
    tps = med(s, "tokens_per_s")
    side[s] = dict(tokens_per_s=tps, step_ms=med(s, "step_ms"), forward_ms=med(s, "forward_ms"),
                   tokens_per_s_runs=[d["tokens_per_s"] for d in runs[s]],
                   mflop_per_token=flop[s] / 1e6, gflops=tps * flop[s] / 1e9, parameters=runs[s][0]["parameters"])
side["griffin"].update(model=g0["model"], family=g0["family"], precision=g0.get("precision", "fp32"),
                       sgemm_peak_gflops=med("griffin", "sgemm_peak_gflops"))
side["llmc"].update(model="gpt2", channels=C, layers=L, heads=l0["heads"], vocab=V, padded_vocab=l0["padded_vocab"],
                    max_seq_len=l0["max_seq_len"], first_loss=l0["first_loss"],
                    flop_formula="6*(12*L*C^2 + C*V) + 12*L*C*T",
                    mflop_per_token_llmc_convention=llmc_convention / 1e6,
                    compile=compile_cmd, checkout=llmc_dir, commit=llmc_commit, train_gpt2_c_sha256=llmc_sha,
                    checkpoint=ckpt)
ratio = side["griffin"]["tokens_per_s"] / side["llmc"]["tokens_per_s"]
ratio_flops = side["griffin"]["gflops"] / side["llmc"]["gflops"]
summary = dict(batch=g0["batch"], seq=g0["seq"], threads=g0["threads"], rounds=rounds, steps_per_run=l0["steps"],
               warmup=l0["warmup"], griffin=side["griffin"], llmc=side["llmc"],
               speedup_griffin_over_llmc_tokens=ratio, speedup_griffin_over_llmc_gflops=ratio_flops)
with open(out + "/summary.json", "w") as f:
    json.dump(summary, f, indent=1)
    f.write("\n")
g, l = side["griffin"], side["llmc"]
print()
print("griffin.c  %s %s, %.1f M parameters, %.1f MFLOP/token (its bench)" % (g["model"], g["family"], g["parameters"] / 1e6, g["mflop_per_token"]))
print("llm.c      GPT-2 C=%d L=%d NH=%d V=%d (Vp %d), %.1f M parameters, %.1f MFLOP/token = 6·(12·L·C² + C·V) + 12·L·C·T"
      % (C, L, l0["heads"], V, l0["padded_vocab"], l["parameters"] / 1e6, l["mflop_per_token"]))
print("           built with: %s" % compile_cmd)
print("batch      B=%d T=%d (%d tokens), %d threads, float32" % (g0["batch"], T, g0["batch"] * T, g0["threads"]))
print("median of %d round(s)   tokens/s   step (ms)   forward (ms)   GFLOP/s" % rounds)
for label, d in (("griffin.c", g), ("llm.c train_gpt2.c", l)):
    print("  %-20s %10.1f %11.1f %14.1f %9.2f" % (label, d["tokens_per_s"], d["step_ms"], d["forward_ms"], d["gflops"]))
print("ratio      griffin.c / llm.c = %.2f× tokens/s, %.2f× GFLOP/s" % (ratio, ratio_flops))
print("wrote      %s/summary.json, %s/runs.csv" % (out, out))
EOF
