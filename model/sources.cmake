list(APPEND GRIFFIN_SOURCES model/config.c model/params.c model/gemm.c model/gemm_bf16.c model/embedding.c model/rmsnorm.c model/mlp.c model/conv1d.c model/rglru.c model/attention.c model/loss.c model/griffin.c model/lora.c model/gemv.c model/gemv_narrow.c model/weights.c model/decode.c model/sampler.c model/vmath.c)
# vmath.c, rglru.c, gemv_narrow.c: the scalar code and the AVX2 lanes must round alike (no implicit FMA contraction)
set_source_files_properties(model/vmath.c model/rglru.c model/gemv_narrow.c PROPERTIES COMPILE_OPTIONS -ffp-contract=off)
