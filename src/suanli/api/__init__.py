"""The REST API (FastAPI): routes per resource under ``/v1``, token auth, JSON errors."""
