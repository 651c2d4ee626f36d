"""Helpers of the benchmarks: process sampling, statistics, the pipeline report."""
