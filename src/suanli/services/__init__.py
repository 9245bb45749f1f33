"""Use cases shared by the API and the CLI: each takes a ``Platform`` (the composition root) and
a ``Caller`` (who asks), checks the caller's role and scope, and does its work in one
``UnitOfWork`` with an audit record for every change."""
