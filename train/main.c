/* griffin: the command-line entry. Each command is a thin driver in train/. */
#include <stdio.h>
#include <string.h>

#include "train/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} Command;

static const Command commands[] = {
    {"pretrain", cmd_pretrain, "train from scratch or a checkpoint on a staged mixture of text corpora"},
    {"sft", cmd_sft, "instruction-tune a checkpoint on chat corpora (loss on model turns)"},
    {"reward", cmd_reward, "train a reward model on preference corpora (Bradley-Terry)"},
    {"rlhf", cmd_rlhf, "optimise a policy against a reward model under a KL penalty (RLOO, clipped)"},
    {"dpo", cmd_dpo, "direct preference optimisation on preference pairs (DPO, robust, IPO, hinge, SimPO)"},
    {"sample", cmd_sample, "generate text from a checkpoint (plain or chat), fixed-size state"},
    {"eval", cmd_eval, "loss, perplexity and bits per byte of a checkpoint on corpora; reward-model accuracy"},
    {"plan", cmd_plan, "the memory a config needs per rank (computed before allocating), against what is available"},
    {"bench", cmd_bench, "train throughput, FLOPs and memory (griffin bench train --help)"},
    {"tokenize", cmd_tokenize, "text/JSONL(.gz) -> corpus.h5 (kinds: text, chat, preference, prompt)"},
    {"inspect", cmd_inspect, "describe a corpus file (--show N decodes documents)"},
    {"import", cmd_import, "RecurrentGemma safetensors (official or HF names) -> checkpoint"},
    {"export-corpus", cmd_export_corpus, "text corpus -> Megatron (.idx/.bin) or llm.c shards"},
    {"export", cmd_export, "checkpoint -> safetensors + config.json (official or HF layout)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: griffin <command> [config.ini] [--section.key=value ...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nRun 'griffin <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 1 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].run && !strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "griffin: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
