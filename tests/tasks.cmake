# griffin eval --tasks (data/tasks.c, data/task_prompt.c, train/tools/task_score.c, train/tools/eval_tasks.c):
# the reader's refusals, the context/continuation split at the tokenisation boundary, few-shot
# and chat prompts, state copy = from scratch; the command's refusals; the scores of a tiny
# random model against the float64 PyTorch reference (tests/ref/task_check.py). A tokenizer is
# trained at test time from tests/data/tiny.txt (well under a second).
set(TASKS_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/tasks_work)
file(MAKE_DIRECTORY ${TASKS_TEST_DIR})
set(TASKS_TEST_ENV "GRIFFIN_TEST_TOKENIZER=${TASKS_TEST_DIR}/tok.model" "GRIFFIN_BIN=$<TARGET_FILE:griffin>")
add_test(NAME tasks_tokenizer
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/data/train_tokenizer.sh ${CMAKE_CURRENT_SOURCE_DIR}/data/tiny.txt
          ${TASKS_TEST_DIR}/tok 400 --hard_vocab_limit=false)
set_tests_properties(tasks_tokenizer PROPERTIES LABELS "data" FIXTURES_SETUP tasks_tok)

add_executable(test_eval_tasks test_eval_tasks.c)
target_compile_options(test_eval_tasks PRIVATE ${GRIFFIN_WARNINGS} ${GRIFFIN_C_WARNINGS})
target_link_libraries(test_eval_tasks PRIVATE griffin_core)
add_dependencies(test_eval_tasks griffin)
add_test(NAME test_eval_tasks_unit COMMAND test_eval_tasks unit ${TASKS_TEST_DIR}/unit)
set_tests_properties(test_eval_tasks_unit PROPERTIES LABELS "data;model" FIXTURES_REQUIRED tasks_tok
  ENVIRONMENT "${TASKS_TEST_ENV}")
add_test(NAME test_eval_tasks_cli COMMAND test_eval_tasks cli ${TASKS_TEST_DIR}/cli)
set_tests_properties(test_eval_tasks_cli PROPERTIES LABELS "train" FIXTURES_REQUIRED tasks_tok
  ENVIRONMENT "${TASKS_TEST_ENV}")
# The scores of a tiny random checkpoint on a task file of boundary cases (trailing space,
# punctuation, a merge across the boundary, UTF-8, an empty context, a "\nAnswer: " delimiter,
# partial scoring) against tests/ref/task_check.py, which rebuilds the requests from the file with
# spm_encode and scores them with griffin_ref in float64 (1e-5); once with every context in the
# parallel prefill, once with --max-length 8 so that the longer contexts continue by decode steps.
set(TR ${TASKS_TEST_DIR}/ref)
add_test(NAME eval_tasks_reference
  COMMAND bash -c "rm -rf ${TR} && $<TARGET_FILE:test_eval_tasks> ref ${TR} >/dev/null && cd ${TR} && $<TARGET_FILE:griffin> export --checkpoint ref_ckpt/ckpt-0.h5 --format hf --dtype fp32 --out hf --force >export.log && for T in 0 8; do $<TARGET_FILE:griffin> eval --checkpoint ref_ckpt/ckpt-0.h5 --tasks ref_tasks.jsonl --max-length $T --per-example per$T.jsonl >eval$T.log && ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/task_check.py hf ref_tasks.jsonl per$T.jsonl ${TASKS_TEST_DIR}/tok.model eval$T.log || exit 1; done")
set_tests_properties(eval_tasks_reference PROPERTIES LABELS "model;reference" FIXTURES_REQUIRED tasks_tok
  ENVIRONMENT "${TASKS_TEST_ENV}")
# scripts/tasks/convert.py: each benchmark's harness template on made-up records, and the files
# accepted and scored by griffin eval --tasks.
add_test(NAME eval_tasks_convert
  COMMAND bash -c "$<TARGET_FILE:test_eval_tasks> ref ${TASKS_TEST_DIR}/convert >/dev/null && ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_task_convert.py $<TARGET_FILE:griffin> ${TASKS_TEST_DIR}/convert/ref_ckpt/ckpt-0.h5 ${TASKS_TEST_DIR}/convert")
set_tests_properties(eval_tasks_convert PROPERTIES LABELS "data" FIXTURES_REQUIRED tasks_tok
  ENVIRONMENT "${TASKS_TEST_ENV}")
