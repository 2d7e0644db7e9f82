# train/: config parsing and HDF5 checkpoints.
griffin_c_test(test_config "train" test_config.c)
target_compile_definitions(test_config PRIVATE GRIFFIN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
griffin_c_test(test_checkpoint "train" test_checkpoint.c)
