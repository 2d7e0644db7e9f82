# sources of rlhf/ (appended to GRIFFIN_SOURCES)
