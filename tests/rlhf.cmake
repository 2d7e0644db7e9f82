# rlhf/: reward model and RLHF (label rlhf).
griffin_c_test(test_rlhf "rlhf;kernel" test_rlhf.c)
set_tests_properties(test_rlhf PROPERTIES ENVIRONMENT OMP_NUM_THREADS=1)
# The constructed task (tests/rlhf/make_task.py): a reply naming "gold" is preferred. A tiny
# chat model is tuned (griffin sft), a reward model trained from it (griffin reward, held-out
# accuracy >= 95%), then RLHF raises the held-out mean reward-model score while KL stays bounded;
# resume is checked bitwise. Local data only (spm_train on generated text).
add_test(NAME rlhf_task
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/rlhf/test_task.py $<TARGET_FILE:griffin>
          ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/rlhf_work/task)
set_tests_properties(rlhf_task PROPERTIES LABELS "rlhf;train" TIMEOUT 600)
set_tests_properties(rlhf_task PROPERTIES FIXTURES_SETUP rlhf_task_dir)
# 2 MPI ranks with half the batch each = 1 rank with the whole batch (reward and rlhf)
add_test(NAME rlhf_ranks
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/rlhf/test_ranks.py $<TARGET_FILE:griffin>
          ${CMAKE_CURRENT_BINARY_DIR}/rlhf_work/task)
set_tests_properties(rlhf_ranks PROPERTIES LABELS "rlhf;mpi" FIXTURES_REQUIRED rlhf_task_dir TIMEOUT 300)
# On the small real data, from the tiny SFT model the sft_end_of_turn test leaves behind
# (labels download and e2e, like it, so `ctest -L rlhf` stays quick; run it with -R rlhf_small).
if(TEST sft_end_of_turn)
  set_property(TEST sft_end_of_turn APPEND PROPERTY FIXTURES_SETUP tiny_sft_ckpt)
  add_test(NAME rlhf_small
    COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/rlhf/test_small.py $<TARGET_FILE:griffin> ${CMAKE_SOURCE_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/prepared_small ${PIPELINE_TEST_DIR}/sft/sft/ckpt-300.h5
            ${CMAKE_CURRENT_BINARY_DIR}/rlhf_work/small)
  set_tests_properties(rlhf_small PROPERTIES LABELS "download;e2e" FIXTURES_REQUIRED "small_data;tiny_sft_ckpt" TIMEOUT 900)
endif()
