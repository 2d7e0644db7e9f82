list(APPEND GRIFFIN_SOURCES common/check.c common/rng.c common/sys.c)
