# sources of data/ (appended to GRIFFIN_SOURCES)
list(APPEND GRIFFIN_SOURCES data/tokenizer.cc data/lines.c data/chat.c data/corpus.c data/corpus_h5.c data/corpus_external.c
  data/corpus_export.c data/corpus_write.c data/h5guard.c data/tokenize.c data/safetensors.c)
list(APPEND GRIFFIN_SOURCES data/mixture.c data/tasks.c data/task_prompt.c)
