/* The sgemm rate this machine reaches, measured in the same run, as the peak that MFU
 * (model FLOPs utilisation) is reported against. */
#ifndef GRIFFIN_PERF_H
#define GRIFFIN_PERF_H

/* best GFLOP/s of cblas_sgemm over an M x K x N product of the training shape and a square
 * 1024^3 one (a few repetitions each, well under a second) */
double sgemm_peak_gflops(int M, int K, int N);

#endif
