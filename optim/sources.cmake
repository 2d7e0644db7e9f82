# sources of optim/ (appended to GRIFFIN_SOURCES)
list(APPEND GRIFFIN_SOURCES optim/adamw.c optim/schedule.c optim/clip.c optim/dist.c optim/trainable.c optim/zero.c)
