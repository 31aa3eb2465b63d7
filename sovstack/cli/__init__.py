"""The command line: the one place that prints, asks and exits (main is the error boundary)."""
