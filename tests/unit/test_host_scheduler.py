"""HostScheduledFn's dispatch order, driven directly with real threads (no Beam runner)."""

from __future__ import annotations

import threading
import time

from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp

from pipeline.config import HttpConfig
from pipeline.transforms.host_scheduler import HostScheduledFn


class _Recorded(HostScheduledFn):
    """Each item stands for a short request; records the order requests started in."""

    def setup(self) -> None:
        super().setup()
        self.started: list[str] = []
        self.lock = threading.Lock()

    def work(self, item: tuple[str, int]) -> tuple[str, int]:
        with self.lock:
            self.started.append(item[0])
        time.sleep(0.005)
        return item

    def emit(self, item: tuple[str, int], result: tuple[str, int]):
        yield result


def _run(groups: dict[str, int]) -> tuple[list[str], list[tuple[str, int]]]:
    fn = _Recorded(HttpConfig(concurrency=1, per_host_concurrency=1, per_host_delay_s=0,
                              allow_private_networks=True), respect_robots=False)
    fn.setup()
    try:
        fn.start_bundle()
        out = [wv.value for host, n in groups.items()
               for wv in fn.process((host, [(host, i) for i in range(n)]), GlobalWindow(), Timestamp(0))]
        out += [wv.value for wv in fn.finish_bundle()]
        return fn.started, out
    finally:
        fn.teardown()


def test_the_longest_queue_goes_first_so_hosts_run_out_together() -> None:
    """A host is fetched no faster than its gap allows: one left with most of its items at the end
    keeps the stages it feeds waiting, so hosts are served longest queue first."""
    started, out = _run({"small.test": 1, "big.test": 12, "mid.test": 4})
    assert sorted(out) == sorted([("small.test", 0)] + [("big.test", i) for i in range(12)]
                                 + [("mid.test", i) for i in range(4)])
    assert started[0] == "small.test"  # the only host queued when the first request went out
    assert started.index("big.test") < started.index("mid.test")
    # big.test is served alone until it is down to mid.test's length, then they alternate
    assert started[1:9] == ["big.test"] * 8
    assert set(started[-4:]) == {"big.test", "mid.test"}
