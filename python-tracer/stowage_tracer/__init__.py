"""Stowage's Python side: Temporal activities that trace and profile models on the processor they target."""
