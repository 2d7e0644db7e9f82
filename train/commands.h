/* Entry points of the griffin commands; argv[0] is the command name. */
#ifndef GRIFFIN_COMMANDS_H
#define GRIFFIN_COMMANDS_H

int cmd_bench(int argc, char **argv);
int bench_sample(int argc, char **argv); /* griffin bench sample */
int bench_data(int argc, char **argv);   /* griffin bench data */
int cmd_pretrain(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_reward(int argc, char **argv);
int cmd_rlhf(int argc, char **argv);
int cmd_dpo(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_export_corpus(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
