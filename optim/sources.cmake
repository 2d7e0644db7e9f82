# sources of optim/ (appended to GRIFFIN_SOURCES)
