"""How the collector's connections are served: uvicorn's HTTP/1.1 protocol with deadlines on each
request, room made at the connection limit and a limit per client address, so that neither slow
nor half-open clients, nor one address with many sockets, can hold the server."""
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_PORT = 8765
HEADERS_TIMEOUT_S = 10.0
# 1 MiB in 30 s is 35 KB/s: a phone on a poor link still gets a full-size record through.
REQUEST_TIMEOUT_S = 30.0
# Of the server's 100: one host posting records for a phone farm uses a few at once; a client holding
# more than this is one client trying to take the server's place for everyone else.
CONNECTIONS_PER_CLIENT = 20


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with deadlines on receiving each request.

    uvicorn closes idle keep-alive connections but never times out a request being received: a
    client that sends its headers slowly, or declares Content-Length: 100 and sends 2 bytes, holds
    a connection (and one of `limit_concurrency` slots) for ever. Here the deadlines start with the
    connection, or with the previous response on a kept-alive one.
    """

    headers_timeout_s = HEADERS_TIMEOUT_S
    request_timeout_s = REQUEST_TIMEOUT_S
    connections_per_client = CONNECTIONS_PER_CLIENT
    _deadline = None
    _admitted = True

    def connection_made(self, transport):
        super().connection_made(transport)
        self._start_request_clock()
        self._admit()
        self._make_room()

    def _admit(self):
        """Past `connections_per_client` open connections from one address, the next one is answered
        429 at its first request and closed. Answered, not closed at once: an HTTP client that finds
        its connection closed before an answer retries, or reports a bare reset."""
        address = self.client[0] if self.client else None
        if address is None:
            return
        held = sum(1 for c in self.connections
                   if c is not self and isinstance(c, BoundedH11Protocol) and c._admitted
                   and c.client and c.client[0] == address)
        if held >= self.connections_per_client:
            self._admitted = False
            self.app = too_many_connections(address, self.connections_per_client)

    def _make_room(self):
        """At the connection limit, closes the connection that has waited longest without sending a whole
        request's headers. uvicorn counts open connections against `limit_concurrency` and answers 503
        to every request past it: a hundred sockets that send a request line and stop would otherwise
        shut every client out until the headers deadline, and then simply reconnect. An ordinary
        client sends its headers at once, so it is never the one that waited longest."""
        limit = self.limit_concurrency
        if limit is None or len(self.connections) < limit:
            return
        waiting = [c for c in self.connections
                   if c is not self and isinstance(c, BoundedH11Protocol) and c._between_requests()]
        if waiting:
            min(waiting, key=lambda c: c._request_started)._shed()

    def _between_requests(self):
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _start_request_clock(self):
        self._request_started = self.loop.time()
        self._arm(self.headers_timeout_s, "request headers")

    def _arm(self, delay, what):
        self._disarm()
        self._deadline = self.loop.call_later(max(delay, 0), self._expired, what)

    def _disarm(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def handle_events(self):
        waiting_for_headers = self.conn.their_state is h11.IDLE
        super().handle_events()
        state = self.conn.their_state
        if state is h11.SEND_BODY and waiting_for_headers:
            self._arm(self._request_started + self.request_timeout_s - self.loop.time(), "request body")
        elif state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()  # the whole request is in (or the connection is over)

    def on_response_complete(self):
        # Before super(): it may go on to a pipelined request, whose events must see a fresh clock.
        self._start_request_clock()
        super().on_response_complete()

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def _shed(self):
        self._disarm()
        # Counted no more from now on, not from connection_lost on a later turn of the loop: a request
        # arriving in between would still find the server full.
        self.connections.discard(self)
        if self.conn.trailing_data[0]:  # part of a request came: say why it gets no answer
            self._answer_and_close(503, "Service Unavailable", "the collector is at its connection limit and this "
                                   "connection had not sent its request headers; send the whole request at once")
        else:
            self.transport.close()

    def _answer_and_close(self, status, phrase, message):
        detail = json.dumps({"detail": message}).encode()
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
                             b"content-length: %d\r\n\r\n%s" % (status, phrase.encode(), len(detail), detail))
        self.transport.close()

    def _expired(self, what):
        self._deadline = None
        if self.transport.is_closing():
            return
        # Not a byte of a next request: a quiet connection, closed without an answer nobody asked for
        # (an HTTP client could take it for the answer to its next request).
        quiet = self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]
        answered = self.conn.their_state is h11.SEND_BODY and self.cycle is not None and self.cycle.response_started
        if not quiet and not answered:
            limit = self.headers_timeout_s if what == "request headers" else self.request_timeout_s
            self._answer_and_close(408, "Request Timeout", f"{what} not received within {limit:g} s of the "
                                   "request's start; send the whole request at once")
        else:
            self.transport.close()


def too_many_connections(address, limit):
    """The ASGI app that answers a connection over its address's limit (and ends it: connection: close)."""
    detail = json.dumps({"detail": f"{address} already holds {limit} open connections to the collector, its "
                                   "limit per client address; finish or close those, then try again"}).encode()

    async def answer(scope, receive, send):
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"retry-after", b"5"), (b"content-length", b"%d" % len(detail))]})
        await send({"type": "http.response.body", "body": detail})

    return answer


def bounded_protocol(headers_timeout_s=HEADERS_TIMEOUT_S, request_timeout_s=REQUEST_TIMEOUT_S,
                     connections_per_client=CONNECTIONS_PER_CLIENT):
    return type("BoundedH11Protocol", (BoundedH11Protocol,),
                {"headers_timeout_s": headers_timeout_s, "request_timeout_s": request_timeout_s,
                 "connections_per_client": connections_per_client})


def server_config(app, host="127.0.0.1", port=DEFAULT_PORT, *, headers_timeout_s=HEADERS_TIMEOUT_S,
                  request_timeout_s=REQUEST_TIMEOUT_S, connections_per_client=CONNECTIONS_PER_CLIENT, **options):
    """The uvicorn configuration the collector runs with (`serve` and the tests alike)."""
    import uvicorn

    settings = {"log_level": "info", "server_header": False, "proxy_headers": False, "timeout_keep_alive": 5,
                "limit_concurrency": 100, **options}
    protocol = bounded_protocol(headers_timeout_s, request_timeout_s, connections_per_client)
    return uvicorn.Config(app, host=host, port=port, http=protocol, **settings)
