# train/: config parsing and HDF5 checkpoints.
griffin_c_test(test_config "train" test_config.c)
target_compile_definitions(test_config PRIVATE GRIFFIN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
griffin_c_test(test_checkpoint "train" test_checkpoint.c)
# every design-note citation in the sources (docs/architecture.md §N, pitfall N, docs/*.md) resolves
add_test(NAME docs_citations COMMAND ${GRIFFIN_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/check_citations.py)
set_tests_properties(docs_citations PROPERTIES LABELS "train")
