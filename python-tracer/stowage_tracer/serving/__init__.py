"""The model server: serves the models one placement assigns to one device (the post's FastAPI server,
with readiness, Prometheus metrics and dynamic micro-batching)."""
