"""The cloud side as a network service: ``POST /v1/strategy`` -> strategy wire bytes, with
dynamic batching, overload shedding and metrics (docs/serve.md).

``chord.serve.client`` is stdlib-only (the device imports it); the server modules need the
``serve`` extra (FastAPI + uvicorn) and are imported only when used.
"""
