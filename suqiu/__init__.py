"""suqiu: the command line, configuration and scheduler that wire the pipeline."""
