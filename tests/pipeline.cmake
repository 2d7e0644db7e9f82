# Data mixture and the training loops built on it.
set(PIPELINE_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/pipeline_work)
file(MAKE_DIRECTORY ${PIPELINE_TEST_DIR})
griffin_c_test(test_mixture "data" test_mixture.c)
set_tests_properties(test_mixture PROPERTIES ENVIRONMENT "GRIFFIN_TEST_DIR=${PIPELINE_TEST_DIR}")
# corpora streamed through a small chunk cache, and the external formats read in place
griffin_c_test(test_corpus_formats "data" test_corpus_formats.c)
set_tests_properties(test_corpus_formats PROPERTIES ENVIRONMENT "GRIFFIN_TEST_DIR=${PIPELINE_TEST_DIR}")

# griffin pretrain on real text (the licence texts of base-files), see tests/pipeline/.
set(LIC_DIR ${PIPELINE_TEST_DIR}/lic)
add_test(NAME pipeline_corpora
  COMMAND bash -c "rm -rf ${LIC_DIR} && ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/make_corpora.sh $<TARGET_FILE:griffin> ${LIC_DIR} 2>/dev/null && cp ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/lic.ini ${LIC_DIR}/")
set_tests_properties(pipeline_corpora PROPERTIES LABELS "train" FIXTURES_SETUP lic_corpora)
foreach(t learns resume resume2 ranks mixture recompute freeze plan score formats)
  add_test(NAME pretrain_${t}
    COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_pretrain.py $<TARGET_FILE:griffin> ${LIC_DIR} ${t})
  set_tests_properties(pretrain_${t} PROPERTIES LABELS "train" FIXTURES_REQUIRED lic_corpora)
endforeach()
set_tests_properties(pretrain_resume2 pretrain_ranks pretrain_formats PROPERTIES LABELS "train;mpi")
# sample / eval --weights fp32|bf16|int8 on a model trained for 8 steps (tests/pipeline/test_weights.py)
add_test(NAME weights_formats
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_weights.py $<TARGET_FILE:griffin> ${LIC_DIR}
          $<TARGET_FILE:faults_poison_ckpt>)
set_tests_properties(weights_formats PROPERTIES LABELS "train" FIXTURES_REQUIRED lic_corpora)

# The small real data for the end-to-end test below.
set_tests_properties(data_prepare_small PROPERTIES FIXTURES_SETUP small_data)

# The main job end to end: scripts/demo.sh --quick on the small data prepared above.
add_test(NAME demo_quick
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_demo.py ${CMAKE_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/prepared_small ${PIPELINE_TEST_DIR}/demo)
set_tests_properties(demo_quick PROPERTIES LABELS "e2e;download" FIXTURES_REQUIRED small_data TIMEOUT 1800)

# Does it learn like the paper? scripts/study_families.sh --quick on the same small data: six tiny
# runs (griffin, hawk, transformer at two equal-parameter sizes), held-out and by-position
# evaluation, report.md with six rows, curves.png and length.png; a rerun skips everything.
# About 25 s of CPU time (30-40 s on 2 idle cores).
add_test(NAME study_quick
  COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_study.py ${CMAKE_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/prepared_small ${PIPELINE_TEST_DIR}/study $<TARGET_FILE:griffin>)
set_tests_properties(study_quick PROPERTIES LABELS "study;e2e;download" FIXTURES_REQUIRED small_data TIMEOUT 900)

# The generator of the large corpus `griffin bench data` was measured on (not a test).
add_executable(bench_make_big_corpus bench/make_big_corpus.c)
target_compile_options(bench_make_big_corpus PRIVATE ${GRIFFIN_WARNINGS} ${GRIFFIN_C_WARNINGS})
target_link_libraries(bench_make_big_corpus PRIVATE griffin_core)
# griffin bench data runs end to end on the lic config (the figures themselves are in the README)
add_test(NAME bench_data_smoke
  COMMAND $<TARGET_FILE:griffin> bench data ${LIC_DIR}/lic.ini --batches 20 --rank 1 --world 2
          --json ${PIPELINE_TEST_DIR}/bench_data.json)
set_tests_properties(bench_data_smoke PROPERTIES LABELS "train" FIXTURES_REQUIRED lic_corpora
  PASS_REGULAR_EXPRESSION "corpus memory [0-9.]+ MB.*\n.*packing a batch")
