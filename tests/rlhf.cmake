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
# rlhf.sampler_weights = bf16: rollouts from a bf16 copy of the policy, ratios from the trainer's
# fp32 log-probabilities; the held-out score still rises (tests/rlhf/test_sampler_weights.py)
add_test(NAME rlhf_sampler_weights
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/rlhf/test_sampler_weights.py $<TARGET_FILE:griffin>
          ${CMAKE_CURRENT_BINARY_DIR}/rlhf_work/task)
set_tests_properties(rlhf_sampler_weights PROPERTIES LABELS "rlhf" FIXTURES_REQUIRED rlhf_task_dir TIMEOUT 600)
# On the small real data, reward model and RLHF run inside the end-to-end test demo_quick
# (tests/pipeline/test_demo.py: scripts/demo.sh --quick).
# train.freeze / train.trainable in sft, reward and rlhf (1 and 2 ranks, resume) on the same task
add_test(NAME rlhf_freeze
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/rlhf/test_freeze.py $<TARGET_FILE:griffin>
          ${CMAKE_CURRENT_BINARY_DIR}/rlhf_work/task)
set_tests_properties(rlhf_freeze PROPERTIES LABELS "rlhf;mpi" FIXTURES_REQUIRED rlhf_task_dir TIMEOUT 300)
# rlhf/dpo.c: every DPO-family loss against finite differences (kernel and through a tiny
# model), and against an independent PyTorch computation (tests/ref/check_dpo.py)
griffin_c_test(test_dpo "rlhf;kernel" test_dpo.c)
set_tests_properties(test_dpo PROPERTIES ENVIRONMENT OMP_NUM_THREADS=1)
add_test(NAME dpo_reference
  COMMAND bash -c "$<TARGET_FILE:test_dpo> --dump dpo_reference.json && ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/check_dpo.py dpo_reference.json")
set_tests_properties(dpo_reference PROPERTIES LABELS "rlhf;reference")
# griffin dpo on the constructed task: held-out implicit-reward accuracy 0.5 -> >= 0.95,
# precomputed = in-memory reference and resume bitwise, 2 ranks and micro-batches, every loss,
# refused configs
add_test(NAME rlhf_dpo
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/rlhf/test_dpo.py $<TARGET_FILE:griffin>
          ${CMAKE_CURRENT_BINARY_DIR}/rlhf_work/task)
set_tests_properties(rlhf_dpo PROPERTIES LABELS "rlhf;train" FIXTURES_REQUIRED rlhf_task_dir TIMEOUT 600)
# [lora] adapters in sft (learns, base bitwise frozen, resume bitwise), sample / eval / export
# --merge of the adapter checkpoint, reward, rlhf and dpo with adapters, bad settings refused
add_test(NAME rlhf_lora
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/rlhf/test_lora.py $<TARGET_FILE:griffin>
          ${CMAKE_CURRENT_BINARY_DIR}/rlhf_work/task)
set_tests_properties(rlhf_lora PROPERTIES LABELS "rlhf;train" FIXTURES_REQUIRED rlhf_task_dir TIMEOUT 600)
