/* The peaks that MFU (model FLOPs utilisation) is reported against, measured in the same run:
 * - the sgemm rate this machine reaches at the training shape (what OpenBLAS gives), and
 * - the FMA peak: a register-resident loop of independent fused multiply-adds on every
 *   thread, AVX2 + FMA and, where the CPU has it, AVX-512F (chosen by cpuid at run time);
 *   the better of the two is the machine's fp32 peak, which no product can exceed. */
#ifndef GRIFFIN_PERF_H
#define GRIFFIN_PERF_H

/* best GFLOP/s of cblas_sgemm over an M x K x N product of the training shape and a square
 * 1024^3 one (a few repetitions each, well under a second) */
double sgemm_peak_gflops(int M, int K, int N);

typedef struct {
    double avx2, avx512; /* GFLOP/s of each loop on omp_get_max_threads() threads; 0: not run */
    double peak;         /* the better one */
    const char *isa;     /* "avx2" or "avx512": which gave the peak ("none" without AVX2+FMA) */
} FmaPeak;

/* the FMA loops on omp_get_max_threads() threads, best of a few repetitions (~0.1 s) */
FmaPeak fma_peak_gflops(void);

#endif
