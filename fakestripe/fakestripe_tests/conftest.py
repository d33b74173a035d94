from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from fakestripe import FakeStripe

from .contract import Checker

#: The package's source folder, so that subprocesses import this checkout of fakestripe.
SRC = Path(__file__).resolve().parents[1] / "src"


def contract_problems(fake: FakeStripe) -> list[str]:
    checker = Checker()
    for method, path, status, body in fake.responses or []:
        if body and not path.startswith("/_fake/"):
            checker.check_json(body, f"{method} {path} -> {status}")
    for event in fake.events():
        checker.check(event, None, f"event {event['id']} {event['type']}")
        checker.check_loads(event, f"event {event['id']}")
    return checker.problems


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    """A started fake with the global ``stripe`` module pointed at it.

    On teardown every API response and event the test produced is checked against
    stripe-python's declared fields (the contract check).
    """
    instance = FakeStripe(record_responses=True, retry_base=0.01)
    instance.start()
    try:
        with instance.stripe_module(stripe, max_network_retries=0):
            yield instance
    finally:
        instance.stop()
    problems = contract_problems(instance)
    assert not problems, "contract violations:\n" + "\n".join(problems[:50])
