/* Entry points of the griffin commands; argv[0] is the command name. */
#ifndef GRIFFIN_COMMANDS_H
#define GRIFFIN_COMMANDS_H

int cmd_bench(int argc, char **argv);

#endif
