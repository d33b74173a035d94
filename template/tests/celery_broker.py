"""Point the project's Celery app at another broker for one test (tests run tasks in-process,
config/settings/test.py): a real Redis for the worker tests, a port nothing listens on for the
tests of an unreachable broker."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from kombu import pools

from config.celery import app as celery_app


def drop_connections(app: Celery = celery_app) -> None:
    """Close the broker connections and forget them, so the next publish connects with the
    settings in force. Celery keeps its pools for the life of the process and has no public call
    to drop them; this is what it does itself in a forked child (`Celery._after_fork`)."""
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def use_broker(url: str, **conf: Any) -> Iterator[Celery]:
    """Within the block, tasks are published to `url` (with these extra Celery settings, e.g.
    `broker_transport_options`) instead of running in-process."""
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager", *conf)}
    celery_app.conf.update(broker_url=url, task_always_eager=False, **conf)
    drop_connections()
    try:
        yield celery_app
    finally:
        drop_connections()
        celery_app.conf.update(saved)


def queued_task(raw: bytes) -> tuple[str, list[Any]]:
    """(task name, args) of one message as kombu's Redis transport keeps it: JSON, with the
    task's arguments base64-encoded JSON inside."""
    message = json.loads(raw)
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    return message["headers"]["task"], args
