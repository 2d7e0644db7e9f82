# griffin eval --tasks (data/tasks.c, data/task_prompt.c, train/task_score.c, train/eval_tasks.c):
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
