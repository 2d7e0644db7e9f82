# sources of train/ (appended to GRIFFIN_SOURCES), one room per concern:
# run/ the step engine and one file per stage, ckpt/ checkpoints, config/ the key table,
# interop/ safetensors layouts, tools/ the other commands.
list(APPEND GRIFFIN_SOURCES train/run/engine.c train/run/lm_stage.c train/run/pretrain.c train/run/sft.c train/run/reward.c train/run/rlhf.c train/run/dpo.c train/run/runlog.c
  train/run/step_check.c train/run/plan.c train/run/corpus_open.c train/ckpt/ckpt_zero.c)
list(APPEND GRIFFIN_SOURCES train/ckpt/checkpoint_util.c train/ckpt/checkpoint_write.c train/ckpt/checkpoint_read.c)
list(APPEND GRIFFIN_SOURCES train/config/config.c train/config/config_table.c train/config/config_out.c)
list(APPEND GRIFFIN_SOURCES train/interop/interop.c train/interop/interop_config.c train/interop/peft.c train/interop/import.c
  train/interop/export.c)
list(APPEND GRIFFIN_SOURCES train/tools/bench.c train/tools/bench_sample.c train/tools/tokenize.c
  train/tools/inspect.c train/tools/model_io.c train/tools/sample.c train/tools/eval.c train/tools/eval_policy.c train/tools/eval_answers.c
  train/tools/perf.c train/tools/eval_tasks.c train/tools/task_score.c
  train/tools/weights_opt.c train/tools/bench_weights.c train/tools/eval_weights.c
  train/tools/bench_data.c train/tools/export_corpus.c)
