"""The extraction pool's processes: forked from a server that loaded the extraction code once,
quiet, and gone with the process that started them.

Spawning the pool cost about 1.2 s and 2.8 CPU-s, each process importing trafilatura, lxml, numpy,
the language model and Beam, paid again by every run of a backlog, since the pool is shut down
when idle.
A `forkserver` imports them once, in a process started before the run needs it
(`start_pool_server`), on the core that start-up leaves idle; pool processes are then forked from
it. It is `forkserver`, not `fork`: this process runs gRPC and HTTP threads that a fork would copy
mid-flight, while the server is a fresh interpreter with none.

This module imports no Beam, and neither does `pipeline.articles.build`, the code the processes
run (`pipeline.articles.preload` is what the server loads): Beam's import costs time and memory and
prints `WARNING:root:apitools not found...` once per process."""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver

from pipeline.logs import quiet_child

_PRELOAD = ["pipeline.articles.preload", "pipeline.sources.feeds"]  # feeds are parsed on it too


def _exit_with(creator: int) -> None:
    """Pool processes end when the process that started the pool is gone (killed, or exited
    without a teardown): otherwise they would wait on their queue forever, each holding a parser's
    memory. Their parent is the forkserver, which by design lives as long as they do, so they
    watch the creator itself."""
    def watch() -> None:
        try:
            select.select([os.pidfd_open(creator)], [], [])  # readable once it has exited
        except ProcessLookupError:  # gone already
            pass
        except (AttributeError, OSError):  # no pidfd (not Linux): ask every second
            while _running(creator):
                time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        pass
    return True


def _init_child(creator: int) -> None:
    quiet_child()
    # Ctrl-C reaches the whole process group: the parent decides; a child would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with(creator)


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def start_pool_server() -> None:
    """Start the process pool processes are forked from, if it is not running: it returns at once
    and the server imports the extraction code meanwhile."""
    _context()  # names the modules to preload
    forkserver.ensure_running()


def stop_pool_server() -> None:
    """Stop the server once the runs that use it are done, as a long-lived process that called them
    (a scheduler, a test session) would otherwise keep it and its memory. It waits for the pool
    processes forked from it, which end when their pool is shut down."""
    stop = getattr(forkserver._forkserver, "_stop", None)  # the standard library's own, not public
    if stop is not None:
        stop()


def pool_size(configured: int) -> int:
    """`extract.processes` as a number of processes: 0 means one per core."""
    return configured or os.cpu_count() or 1


def start_pool(processes: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(processes, mp_context=_context(), initializer=_init_child,
                               initargs=(os.getpid(),))
