"""Tracing and profiling a model for one processor: sources, compilation, measurement."""
