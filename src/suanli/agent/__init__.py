"""The site agent: pulls placements for its site over HTTP with leases, runs them on the site's
engine through a backend, streams status, logs and exit codes back, and sends heartbeats with
live capacity."""
