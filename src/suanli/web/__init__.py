"""The web dashboard: static pages served by the API at ``/``, reading the same REST API."""
