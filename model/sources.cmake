list(APPEND GRIFFIN_SOURCES model/config.c model/params.c)
