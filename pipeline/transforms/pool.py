"""The extraction pool's processes: spawned, quiet, and gone with their parent.

This module imports no Beam: a spawned process unpickles its initializer by importing the module
that defines it, and importing `apache_beam` before logging is set up prints
`WARNING:root:apitools not found...` once per process."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from pipeline.logs import quiet_child


def _exit_with(parent: int) -> None:
    """Pool processes end when the worker that started them is gone (killed, or exited without a
    teardown): otherwise they would wait on their queue forever, each holding a parser's memory."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _init_child(parent: int) -> None:
    quiet_child()
    # Ctrl-C reaches the whole process group: the parent decides; a child would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with(parent)


def spawn_pool(processes: int) -> ProcessPoolExecutor:
    # spawn, not fork: this process runs gRPC and HTTP threads that fork would copy mid-flight
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_child, initargs=(os.getpid(),))
