"""Run a Beam service module with every gRPC server bound to 127.0.0.1 only.

    python tests/e2e/loopback_only.py apache_beam.runners.worker.worker_pool_main --service_port=P

Beam's worker pool, local job service and in-process runner open their gRPC ports on all
interfaces (`[::]:PORT`, hard-coded); tests may only listen on loopback, so the address is
rewritten before the module runs. Imported (not run), it patches the current process.
"""

from __future__ import annotations

import runpy
import sys

import grpc._server

_add_insecure_port = grpc._server._Server.add_insecure_port


def _loopback(self: grpc._server._Server, address: str) -> int:
    host, _, port = address.rpartition(":")
    if host in ("[::]", "0.0.0.0", "", "localhost"):
        address = f"127.0.0.1:{port}"
    return _add_insecure_port(self, address)


grpc._server._Server.add_insecure_port = _loopback

if __name__ == "__main__":
    module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
