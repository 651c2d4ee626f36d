"""Helpers of the whole-pipeline benchmark (feed server, processes, sampling, stats)."""
