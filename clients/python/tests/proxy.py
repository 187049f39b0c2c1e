"""A real TCP proxy in the test process, in front of the test server, that can misbehave on cue.

Each accepted connection takes the next behaviour from a list (then `forward`):
- `forward`: relay bytes both ways until either side closes;
- `drop`: relay one request to the server, wait for its whole answer, then close the
  client's connection without sending it (the server did the work; the answer is lost);
- `503`: answer one request itself with a load balancer's 503 page, never reaching the server.
"""

from __future__ import annotations

import socket
import threading

PAGE = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nRetry-After: 0\r\n"
               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(PAGE), PAGE))


def read_message(conn: socket.socket) -> bytes:
    """One HTTP/1.1 message (head and a Content-Length body) from a socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class Proxy:
    """Listens on 127.0.0.1 (an ephemeral port) and relays to `upstream_port`."""

    def __init__(self, upstream_port: int, behaviours: list[str]):
        self.upstream_port = upstream_port
        self.behaviours = list(behaviours)
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # the timeout: look at the stop flag again
                continue
            behaviour = self.behaviours.pop(0) if self.behaviours else "forward"
            self.connections += 1
            self._sockets.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, behaviour), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket, behaviour: str) -> None:
        client.settimeout(30)
        with client:
            if behaviour == "503":
                read_message(client)
                client.sendall(UNAVAILABLE)
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as upstream:
                self._sockets.append(upstream)
                if behaviour == "drop":
                    upstream.sendall(read_message(client))
                    read_message(upstream)  # the server answered: the work is done
                    return  # ... and the answer is lost with the connection
                self._relay(client, upstream)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join(timeout=30)

    def close(self) -> None:
        self._stopped.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for sock in self._sockets:  # ends the relays of connections a client still keeps open
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until `source` closes, then close `target`'s sending side."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass
