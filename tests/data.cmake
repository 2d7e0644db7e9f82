# data/: tokenizer wrapper, chat template, corpus files, the tokenize/inspect commands.
# A small tokenizer is trained at test time (spm_train, well under a second) from
# tests/data/tiny.txt with the project's tokenizer flags (scripts/data/train_tokenizer.sh).
set(DATA_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/data_work)
file(MAKE_DIRECTORY ${DATA_TEST_DIR})
set(DATA_TEST_ENV "GRIFFIN_TEST_TOKENIZER=${DATA_TEST_DIR}/tiny_tok.model"
  "GRIFFIN_TEST_DIR=${DATA_TEST_DIR}" "GRIFFIN_TEST_FIXTURES=${CMAKE_CURRENT_SOURCE_DIR}/data"
  "GRIFFIN_BIN=$<TARGET_FILE:griffin>")

add_test(NAME data_tokenizer_train
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/data/train_tokenizer.sh ${CMAKE_CURRENT_SOURCE_DIR}/data/tiny.txt
          ${DATA_TEST_DIR}/tiny_tok 400 --hard_vocab_limit=false)
set_tests_properties(data_tokenizer_train PROPERTIES LABELS data FIXTURES_SETUP data_tok)
# a foreign model with SentencePiece's default pieces (<unk>=0 <s>=1 </s>=2, no turn markers),
# standing in for a user-supplied tokenizer.model
add_test(NAME data_tokenizer_train_plain
  COMMAND spm_train --input=${CMAKE_CURRENT_SOURCE_DIR}/data/tiny.txt --model_prefix=${DATA_TEST_DIR}/plain_tok
          --vocab_size=300 --hard_vocab_limit=false --model_type=bpe --minloglevel=2)
set_tests_properties(data_tokenizer_train_plain PROPERTIES LABELS data FIXTURES_SETUP data_tok)

griffin_c_test(test_data_tokenizer data test_data_tokenizer.c)
set_tests_properties(test_data_tokenizer PROPERTIES FIXTURES_REQUIRED data_tok ENVIRONMENT "${DATA_TEST_ENV}")

griffin_c_test(test_data_tokenize data test_data_tokenize.c)
add_dependencies(test_data_tokenize griffin)
set_tests_properties(test_data_tokenize PROPERTIES FIXTURES_REQUIRED data_tok ENVIRONMENT "${DATA_TEST_ENV}")

# The held-out rule of docs/data.md and its checker.
add_test(NAME test_data_heldout COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_data_heldout.py)
set_tests_properties(test_data_heldout PROPERTIES LABELS data)

# scripts/prepare_data.sh --small end to end: downloads ~50 MB of Debian packages (cached in
# data/cache), extracts, trains the 8k tokenizer, tokenizes, and checks the held-out rule on the
# real data (no held-out headword or document in any training corpus). ~30 s after download.
# Exclude with `ctest -LE download` on a machine without Debian's archive.
add_test(NAME data_prepare_small
  COMMAND ${CMAKE_COMMAND} -E env BUILD_DIR=${CMAKE_BINARY_DIR}
          ${CMAKE_SOURCE_DIR}/scripts/prepare_data.sh --small --out ${CMAKE_CURRENT_BINARY_DIR}/prepared_small)
set_tests_properties(data_prepare_small PROPERTIES LABELS "data;download" TIMEOUT 900)
