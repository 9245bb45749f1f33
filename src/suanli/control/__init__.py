"""The live control loop: snapshot from the store -> ``schedule()`` -> bind -> reconcile.

One leader runs it (a PostgreSQL advisory lock, or a file lock next to a SQLite store).
"""
