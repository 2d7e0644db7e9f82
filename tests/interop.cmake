# Import / export of the reference RecurrentGemma layouts (safetensors; train/interop/interop.c,
# data/safetensors.c, griffin import / export). A tokenizer is trained at test time (well
# under a second) so that the round trip carries one; nothing depends on prepared data.
set(INTEROP_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/interop_work)
file(MAKE_DIRECTORY ${INTEROP_TEST_DIR})
set(INTEROP_TEST_ENV "GRIFFIN_BIN=$<TARGET_FILE:griffin>"
  "GRIFFIN_TEST_TOKENIZER=${INTEROP_TEST_DIR}/tok.model" "GRIFFIN_TEST_FIXTURES=${CMAKE_CURRENT_SOURCE_DIR}/data")

add_test(NAME interop_tokenizer
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/data/train_tokenizer.sh ${CMAKE_CURRENT_SOURCE_DIR}/data/tiny.txt
          ${INTEROP_TEST_DIR}/tok 400 --hard_vocab_limit=false)
set_tests_properties(interop_tokenizer PROPERTIES LABELS interop FIXTURES_SETUP interop_tok)

add_executable(test_interop test_interop.c)
target_compile_options(test_interop PRIVATE ${GRIFFIN_WARNINGS} ${GRIFFIN_C_WARNINGS})
target_link_libraries(test_interop PRIVATE griffin_core)
add_dependencies(test_interop griffin)

add_test(NAME test_interop_roundtrip COMMAND test_interop roundtrip ${INTEROP_TEST_DIR}/roundtrip)
set_tests_properties(test_interop_roundtrip PROPERTIES LABELS interop FIXTURES_REQUIRED interop_tok
  ENVIRONMENT "${INTEROP_TEST_ENV}")

add_test(NAME test_interop_malformed
  COMMAND test_interop malformed ${INTEROP_TEST_DIR}/malformed)
set_tests_properties(test_interop_malformed PROPERTIES LABELS interop ENVIRONMENT "${INTEROP_TEST_ENV}")

# HF layout vs the PyTorch reference: our logits against an HF-style forward of the exported
# tensors and against tests/ref/griffin_ref.py on the names mapped back (T < window).
add_test(NAME interop_hf_logits
  COMMAND bash -c "$<TARGET_FILE:test_interop> hf_dump ${INTEROP_TEST_DIR}/hf && ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/hf_check.py ${INTEROP_TEST_DIR}/hf/hf_export")
set_tests_properties(interop_hf_logits PROPERTIES LABELS "interop;reference" ENVIRONMENT "${INTEROP_TEST_ENV}")

# The README workflow: import an HF-layout bf16 model, fine-tune it with griffin sft
# (train.init), sample from the result, export it again.
add_test(NAME test_interop_sft_flow COMMAND test_interop sft_flow ${INTEROP_TEST_DIR}/sft_flow)
set_tests_properties(test_interop_sft_flow PROPERTIES LABELS interop FIXTURES_REQUIRED interop_tok
  ENVIRONMENT "${INTEROP_TEST_ENV}")
