# sources of data/ (appended to GRIFFIN_SOURCES)
