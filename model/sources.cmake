list(APPEND GRIFFIN_SOURCES model/config.c model/params.c model/gemm.c model/embedding.c model/rmsnorm.c model/mlp.c model/conv1d.c model/rglru.c model/attention.c model/loss.c model/griffin.c)
