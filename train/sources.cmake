list(APPEND GRIFFIN_SOURCES train/bench.c train/cmd_tokenize.c train/cmd_inspect.c)
list(APPEND GRIFFIN_SOURCES train/config.c train/config_table.c train/config_out.c train/checkpoint_util.c train/checkpoint_write.c train/checkpoint_read.c)
list(APPEND GRIFFIN_SOURCES train/loop.c)
list(APPEND GRIFFIN_SOURCES train/model_io.c train/cmd_sample.c train/cmd_eval.c)
