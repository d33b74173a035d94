"""kombu's Redis transport, publishing through one Redis client per channel.

kombu's Redis channel wraps its connection pool in a new `redis.Redis` client for each command
it sends outside the consumer loop (a task's publish sends up to two). Building a redis-py
client registers its whole table of response callbacks, which measured about a third of the CPU
time of enqueueing a webhook's task. A client holds no connection itself (each command borrows
one from the pool), so one client per channel is as thread-safe as the pool it wraps.
Selected for redis:// and rediss:// broker URLs by config/settings/base.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        shared = self._shared_client
        # A closed channel gets a new pool on its next use: follow it.
        if shared is None or shared.connection_pool is not self.pool:
            shared = self._shared_client = self._create_client()
        yield shared


class Transport(redis.Transport):
    Channel = Channel
