"""Fixtures of the simulator tests (builders live in ``simbuild.py``)."""

from __future__ import annotations

import pytest
from simbuild import tiny_federation

from suanli.domain.federation import Federation


@pytest.fixture
def tiny() -> Federation:
    return tiny_federation()
