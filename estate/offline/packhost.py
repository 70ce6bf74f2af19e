"""A warm start for policy-pack processes: one host per worker imports the Python policy host's
libraries once, then forks a fresh pack process per stack.

Each forked child is the same program the Pulumi CLI starts — `python -m pulumi.policy <engine>
<pack dir>` (run here with `runpy`, the `pulumi.policy` module unchanged) with the stack's own
`PULUMI_PROJECT` / `PULUMI_STACK` / config environment, working directory and argv — so each
stack still gets its own pack process, built from its own config, serving the Analyzer protocol
on its own port. What is shared is only what the child inherits from the host: modules already
imported (`pulumi`, `pulumi_policy`, `grpc`, protobuf and the `--preload` modules), none of
which has read a stack's environment. No gRPC channel or server exists in the host, so the fork
happens before gRPC has any threads.

Protocol (over the Unix socket the host is given as fd `--socket-fd`): the client sends one JSON
line `{"argv", "env", "cwd"}` with two file descriptors (the child's stdout and stderr, via
SCM_RIGHTS) and reads back one JSON line `{"pid"}`. The child prints its port on that stdout as
the pack always does. The host exits when the socket closes; children are reaped by the kernel
(SIGCHLD ignored) and stopped by the client with SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import runpy
import signal
import socket
import sys

_PRELOAD = ("pulumi", "pulumi.runtime", "pulumi.policy", "pulumi_policy", "grpc")


def _child(request: dict[str, object], fds: list[int], sock: socket.socket) -> None:
    sock.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
    os.chdir(str(request["cwd"]))
    sys.argv = [str(a) for a in list(request["argv"])]  # type: ignore[call-overload]
    code = 0
    try:
        # `pulumi.policy`'s __main__ parses argv, configures the runtime from the environment
        # and runs the pack directory's __main__.py, which serves until it is terminated.
        runpy.run_module("pulumi.policy", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve(sock: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 2)
        except OSError:
            return
        if not message:
            return
        buffer = message
        while not buffer.endswith(b"\n"):
            more = sock.recv(1 << 20)
            if not more:
                return
            buffer += more
        request = json.loads(buffer)
        pid = os.fork()
        if pid == 0:
            _child(request, fds, sock)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--socket-fd", type=int, required=True)
    parser.add_argument("--path", action="append", default=[], help="prepend to sys.path")
    parser.add_argument("--preload", action="append", default=[], help="a module to import")
    args = parser.parse_args()
    sock = socket.socket(fileno=args.socket_fd)
    # As under `python -m pulumi.policy`: the working directory (the pack's) first on the path,
    # not this file's directory.
    sys.path[0] = os.getcwd()
    for path in reversed(args.path):
        sys.path.insert(0, path)
    for name in (*_PRELOAD, *args.preload):
        importlib.import_module(name)
    # What the children inherit is the host's imports: keep the collector off them (and off the
    # pages copy-on-write shares), and collect a child's young objects less often.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    sys.stdout.flush()
    serve(sock)


if __name__ == "__main__":
    main()
