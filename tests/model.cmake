griffin_c_test(test_kernels "kernel" test_kernels.c)
griffin_c_test(test_gemm_bf16 "kernel" test_gemm_bf16.c)
griffin_c_test(test_vmath "kernel" test_vmath.c)
griffin_c_test(test_simd_twins "kernel" test_simd_twins.c)
# it compiles model/rglru.c a second time: the same rounding rules as the library's copy
set_source_files_properties(test_simd_twins.c PROPERTIES COMPILE_OPTIONS -ffp-contract=off)
griffin_c_test(test_gemv_narrow "kernel" test_gemv_narrow.c)
# it compiles model/gemv_narrow.c a second time (the scalar twin): the library's rounding rules
set_source_files_properties(test_gemv_narrow.c PROPERTIES COMPILE_OPTIONS -ffp-contract=off)

# Whole model against the independent PyTorch reference (tests/ref/), per family and case.
add_executable(parity_dump test_model_parity.c)
target_compile_options(parity_dump PRIVATE ${GRIFFIN_WARNINGS} ${GRIFFIN_C_WARNINGS})
target_link_libraries(parity_dump PRIVATE griffin_core)
foreach(case griffin_packed griffin_plain griffin_deep hawk_packed transformer_packed transformer_global
    griffin_lora transformer_lora)
  add_test(NAME parity_${case}
    COMMAND bash -c "$<TARGET_FILE:parity_dump> ${case} parity_${case}.dump && ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/check_parity.py parity_${case}.dump")
  set_tests_properties(parity_${case} PROPERTIES LABELS "model;reference")
endforeach()
# the reference's own checks (tests/ref/selftest.py): gradcheck of the whole float64 model,
# the documented facts it must follow, and the parity checker's round trip (about 90 s of CPU)
add_test(NAME reference_selftest COMMAND ${GRIFFIN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/selftest.py)
set_tests_properties(reference_selftest PROPERTIES LABELS "model;reference" TIMEOUT 900)
griffin_c_test(test_overfit "model" test_overfit.c)
griffin_c_test(test_recompute "model" test_recompute.c)
griffin_c_test(test_lora "model" test_lora.c)
griffin_c_test(test_decode "model" test_decode.c)
griffin_c_test(test_sampler "model" test_sampler.c)
griffin_c_test(test_loss_mask "model" test_loss_mask.c)
