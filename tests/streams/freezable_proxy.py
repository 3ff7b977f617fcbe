"""A TCP proxy that can freeze: connections stay open but no byte moves, as with a database server that stops
answering (SIGSTOP, a hung disk). No timeout of the server's own (statement_timeout) can fire then."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class FreezableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thawed = threading.Event()
        self.thawed.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []

    def freeze(self) -> None:
        self.thawed.clear()

    def thaw(self) -> None:
        self.thawed.set()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                self.thawed.wait()  # frozen: hold the bytes, answer nothing
                if not data or self._closed.is_set():
                    break
                sink.sendall(data)
        except OSError:  # a socket closed under the pump: the connection is over, nothing to report
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):  # the other pump may have shut it already
                    s.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FreezableProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._closed.set()
        self.thawed.set()
        self.listener.close()
        for s in self._sockets:
            s.close()
