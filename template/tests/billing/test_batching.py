"""Stored webhook events leave a web process in batches (`apps.billing.batching`): every id
handed over is sent exactly once, in order, in batches, and none is lost while sending fails."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from apps.billing import batching
from apps.billing.batching import BatchSender


class Broker:
    """What a sender sends to: records each batch; can refuse while `down` is set."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.down = threading.Event()
        self.refused = 0
        self.delay = delay

    def send(self, batch: list[int]) -> None:
        if self.down.is_set():
            self.refused += 1
            raise ConnectionError("the broker is unreachable")
        time.sleep(self.delay)  # a publish takes a while: ids arriving meanwhile gather
        self.batches.append(list(batch))

    @property
    def sent(self) -> list[int]:
        return [item for batch in self.batches for item in batch]


def test_ids_from_many_threads_are_each_sent_once_in_batches():
    broker = Broker(delay=0.002)
    sender = BatchSender(broker.send, name="test ids")

    def add(start: int) -> None:
        for item in range(start, start + 250):
            sender.add(item)

    threads = [threading.Thread(target=add, args=(n * 1000,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sender.flush(timeout=10)
    expected = sorted(n * 1000 + i for n in range(8) for i in range(250))
    assert sorted(broker.sent) == expected  # each once
    assert all(1 <= len(batch) <= batching.BATCH_SIZE for batch in broker.batches)
    assert len(broker.batches) < len(expected) / 5  # gathered, not one message an id
    for n in range(8):  # each thread's ids keep their order
        mine = [item for item in broker.sent if n * 1000 <= item < (n + 1) * 1000]
        assert mine == sorted(mine)


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> tuple[Broker, BatchSender]:
    """A broker that refuses until the test clears `down`, and a sender to it that tries
    again every few milliseconds."""
    monkeypatch.setattr(batching, "FIRST_RETRY_SECONDS", 0.01)
    broker = Broker()
    broker.down.set()
    return broker, BatchSender(broker.send, name="test ids")


def test_ids_are_kept_while_sending_fails_and_sent_once_it_works(broker_down, caplog):
    broker, sender = broker_down
    with caplog.at_level(logging.ERROR, logger="apps.billing.batching"):
        for item in range(3):
            sender.add(item)
        assert not sender.flush(timeout=0.3)  # still held: nothing could be sent
        for item in range(3, 5):
            sender.add(item)
        assert broker.refused >= 2
        broker.down.clear()
        assert sender.flush(timeout=10)
    assert broker.sent == [0, 1, 2, 3, 4]  # all of them, once, in order
    assert re.fullmatch(
        r"Could not queue [1-3] test ids \(attempt 1\); trying again in 0\.0 s", caplog.messages[0]
    )


def test_a_long_outage_keeps_the_newest_ids_and_says_how_many_it_left(
    broker_down, monkeypatch, caplog
):
    monkeypatch.setattr(batching, "MAX_KEPT", 4)
    broker, sender = broker_down
    with caplog.at_level(logging.ERROR, logger="apps.billing.batching"):
        for item in range(6):
            sender.add(item)
            time.sleep(0.02)  # a failed attempt or more between ids
        broker.down.clear()
        assert sender.flush(timeout=10)
    # The oldest were left to the periodic sweep (their events are stored), and said so.
    assert broker.sent == [2, 3, 4, 5]
    dropped = [m for m in caplog.messages if "left to the periodic sweep" in m]
    assert sum(int(message.split()[0]) for message in dropped) == 2


@pytest.mark.parametrize("pending", [0, 3])
def test_flush_says_whether_everything_was_sent(pending):
    broker = Broker()
    broker.down.set()
    sender = BatchSender(broker.send, name="test ids")
    assert sender.flush(timeout=0.01)  # nothing was ever added
    for item in range(pending):
        sender.add(item)
    assert sender.flush(timeout=0.2) is (pending == 0)
    broker.down.clear()
    assert sender.flush(timeout=10)
    assert broker.sent == list(range(pending))


def test_a_quiet_sender_sends_at_once_and_a_busy_one_gathers(monkeypatch):
    monkeypatch.setattr(batching, "LINGER_SECONDS", 1.5)
    broker = Broker()
    sender = BatchSender(broker.send, name="test ids")
    sender.add(1)
    assert sender.flush(timeout=1)  # nothing went out lately: sent at once
    for item in (2, 3, 4):
        sender.add(item)
    assert not sender.flush(timeout=0.5)  # one went out just now: these wait, together
    assert sender.flush(timeout=10)
    assert broker.batches == [[1], [2, 3, 4]]


def test_a_full_batch_goes_out_without_waiting_out_the_linger(monkeypatch):
    monkeypatch.setattr(batching, "LINGER_SECONDS", 30)
    monkeypatch.setattr(batching, "BATCH_SIZE", 3)
    broker = Broker()
    sender = BatchSender(broker.send, name="test ids")
    sender.add(1)
    assert sender.flush(timeout=1)
    for item in (2, 3, 4, 5):
        sender.add(item)
    assert not sender.flush(timeout=0.5)  # one is left over: it waits for the linger
    assert broker.batches == [[1], [2, 3, 4]]
    sender.add(6)
    sender.add(7)
    assert sender.flush(timeout=10)
    assert broker.batches == [[1], [2, 3, 4], [5, 6, 7]]
