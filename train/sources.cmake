list(APPEND GRIFFIN_SOURCES train/bench.c)
