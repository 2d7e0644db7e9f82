/* griffin bench sample --weights (train/tools/bench_weights.c). */
#ifndef GRIFFIN_BENCH_WEIGHTS_H
#define GRIFFIN_BENCH_WEIGHTS_H

/* argv[0] is "sample"; prints the table and returns 0 */
int bench_sample_weights(int argc, char **argv);

#endif
