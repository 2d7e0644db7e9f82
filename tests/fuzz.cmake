# libFuzzer harnesses of the file readers (tests/fuzz/README.md), built with -DGRIFFIN_FUZZ=ON
# (clang). Each ctest runs one harness for GRIFFIN_FUZZ_SECONDS from its seed corpus in
# tests/fuzz/<name>/ (regression inputs included); new inputs go to the build tree.
if(NOT GRIFFIN_FUZZ)
  return()
endif()
set(GRIFFIN_FUZZ_SECONDS 20 CACHE STRING "seconds each fuzz test runs")
set(FUZZ_WORK ${CMAKE_CURRENT_BINARY_DIR}/fuzz_work)
file(MAKE_DIRECTORY ${FUZZ_WORK})

add_executable(fuzz_make_seeds fuzz/make_seeds.c)
target_link_libraries(fuzz_make_seeds PRIVATE griffin_core)

foreach(name config corpus checkpoint jsonl safetensors tasks megatron llmc nanogpt peft)
  add_executable(fuzz_${name} fuzz/fuzz_${name}.c)
  target_compile_options(fuzz_${name} PRIVATE ${GRIFFIN_WARNINGS} ${GRIFFIN_C_WARNINGS})
  target_link_libraries(fuzz_${name} PRIVATE griffin_core)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  add_test(NAME fuzz_${name}
    COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run.py $<TARGET_FILE:fuzz_${name}> ${GRIFFIN_FUZZ_SECONDS}
            ${FUZZ_WORK}/${name} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name})
  set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
set_tests_properties(fuzz_jsonl PROPERTIES FIXTURES_REQUIRED data_tok
  ENVIRONMENT "GRIFFIN_FUZZ_TOKENIZER=${DATA_TEST_DIR}/tiny_tok.model")
set_tests_properties(fuzz_tasks PROPERTIES FIXTURES_REQUIRED data_tok
  ENVIRONMENT "GRIFFIN_FUZZ_TOKENIZER=${DATA_TEST_DIR}/tiny_tok.model")
# a refused corpus_open leaks what it had loaded (it ends the process outside the fuzzer)
set_tests_properties(fuzz_corpus fuzz_megatron fuzz_llmc fuzz_nanogpt PROPERTIES ENVIRONMENT "FUZZ_EXTRA=-detect_leaks=0")
