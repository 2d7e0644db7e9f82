# Fault injection (tests/faults/test_faults.py, label "faults"): kills during training and
# checkpoint writes, damaged and truncated checkpoints, a full disk, malformed JSONL, bad
# corpora, a dying MPI rank, a diverging run (on one rank or all), `inspect --verify` on
# damaged files. Uses the licence corpora of tests/pipeline/.
# the corpora made by the pipeline_corpora fixture (tests/pipeline.cmake, included after this file)
set(FAULTS_LIC_DIR ${CMAKE_CURRENT_BINARY_DIR}/pipeline_work/lic)
add_executable(faults_make_bad_corpora faults/make_bad_corpora.c)
target_compile_options(faults_make_bad_corpora PRIVATE ${GRIFFIN_WARNINGS} ${GRIFFIN_C_WARNINGS})
target_link_libraries(faults_make_bad_corpora PRIVATE griffin_core)
add_executable(faults_poison_ckpt faults/poison_ckpt.c)
target_compile_options(faults_poison_ckpt PRIVATE ${GRIFFIN_WARNINGS} ${GRIFFIN_C_WARNINGS})
target_link_libraries(faults_poison_ckpt PRIVATE griffin_core)

foreach(t kill adapterkill corrupt diskfull jsonl corpora rankdeath nonfinite verify)
  add_test(NAME faults_${t}
    COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/faults/test_faults.py $<TARGET_FILE:griffin>
            ${FAULTS_LIC_DIR} ${t} $<TARGET_FILE:faults_make_bad_corpora>
            $<TARGET_FILE:faults_poison_ckpt>)
  set_tests_properties(faults_${t} PROPERTIES LABELS faults FIXTURES_REQUIRED lic_corpora TIMEOUT 300
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
endforeach()
set_tests_properties(faults_rankdeath faults_nonfinite PROPERTIES LABELS "faults;mpi")
