"""The hot path: ``POST /v1/jobs`` as a plain Starlette endpoint in front of the FastAPI route.

Same contract as the documented FastAPI route in ``routes/jobs.py`` (which stays for OpenAPI and
is what the tests of the schema see): bearer token, ``JobCreate`` validated from the raw body by
pydantic's JSON parser, ``Idempotency-Key``, group commit through ``SubmitBatcher``, the same
JSON errors. It skips FastAPI's per-request dependency solving, which was most of the CPU a
submission cost on a small machine.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.routing import Route

from suanli.api import errors
from suanli.api.render import JSON, error, ok
from suanli.api.routes.jobs import batcher
from suanli.api.schemas import JobCreate
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.services import tokens
from suanli.services.errors import ServiceError


async def submit(request: Request) -> JSON:
    p = request.app.state.platform
    try:
        scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
        caller = tokens.authenticate(p, secret.strip() if scheme.lower() == "bearer" else None)
        key = request.headers.get("idempotency-key")
        if key is not None and len(key) > 128:
            return error(422, "invalid_field", "idempotency-key: at most 128 characters; fix: send a shorter key",
                         "idempotency-key")
        try:
            body = JobCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            return errors.validation_error(list(exc.errors(include_url=False)))  # type: ignore[no-any-return]
        job, created = await batcher(p).submit(caller, body.model_dump(exclude={"tenant"}), tenant=body.tenant,
                                               idempotency_key=key)
    except ServiceError as exc:
        return error(exc.status, exc.code, exc.message, exc.field)
    except InvalidInput as exc:
        return error(422, "unknown_name" if isinstance(exc, UnknownName) else "invalid_input", exc.render(), exc.field)
    return ok(job, 201 if created else 200, headers={"Location": f"/v1/jobs/{job['id']}"})


route = Route("/v1/jobs", submit, methods=["POST"])
