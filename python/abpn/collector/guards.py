"""What a request must be before the collector reads it: within the body limit, addressed to the
collector (Host), and, for writes, not from a web page (Origin, Content-Type)."""
import ipaddress
import socket

from fastapi import HTTPException
from fastapi.responses import JSONResponse

MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """Refuses request bodies over `limit` bytes: by Content-Length before reading, and by counting
    while reading for bodies sent without one (chunked)."""

    def __init__(self, app, limit):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return await JSONResponse({"detail": "Content-Length is not a number"}, 400)(scope, receive, send)
                if int(value) > self.limit:
                    return await self._too_large(scope, receive, send)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted_receive, send)

    def _message(self):
        return f"request body over the limit of {self.limit} bytes; a result record is far smaller"

    async def _too_large(self, scope, receive, send):
        await JSONResponse({"detail": self._message()}, 413)(scope, receive, send)


class RequestGuard:
    """Keeps web pages out: a page the user visits can send requests to the collector (it listens on
    the user's machine or network), and with DNS rebinding, read the answers.

    - Host must name the address the connection came in on (its IP, or localhost on loopback, or
      this machine's name): a rebinding page's requests carry its own domain name (421);
    - writes carrying an Origin must come from the collector's own origin: browsers send Origin
      with every cross-site POST, abpn-tool and the app send none (403);
    - a request body must be declared application/json: a page can send text/plain to any site
      without asking, but a cross-site application/json needs a CORS preflight, which fails (415).
    """

    def __init__(self, app):
        self.app = app
        name = socket.gethostname().lower().rstrip(".")
        self.own_names = {name, f"{name}.local"} if name else set()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {}
        for key, value in scope["headers"]:
            headers.setdefault(key, value.decode("latin-1"))
        problem = self._problem(scope, headers)
        if problem:
            status, message = problem
            return await JSONResponse({"detail": message}, status)(scope, receive, send)
        await self.app(scope, receive, send)

    def _problem(self, scope, headers):
        host = headers.get(b"host", "")
        server = scope.get("server")
        if server and not self._names_server(host, server):
            address = f"[{server[0]}]" if ":" in server[0] else server[0]
            return 421, (f"Host {host!r} does not name this collector; address it as http://{address}:{server[1]} "
                         "(a request under another name could come from a web page through DNS rebinding)")
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return None
        origin = headers.get(b"origin")
        if origin is not None and origin.lower() != f"{scope.get('scheme', 'http')}://{host}".lower():
            return 403, (f"a write from the web page at {origin!r} is refused; records come from abpn-tool or the "
                         "app, which send no Origin")
        has_body = headers.get(b"content-length", "0") != "0" or b"transfer-encoding" in headers
        if has_body and not _is_json(headers.get(b"content-type", "")):
            return 415, (f"Content-Type {headers.get(b'content-type', '(none)')!r}: send the record as "
                         "application/json")
        return None

    def _names_server(self, host, server):
        local, port = server
        if host.startswith("["):  # an IPv6 literal
            name, _, rest = host[1:].partition("]")
            given_port = rest[1:] if rest.startswith(":") else "80" if not rest else ""
        else:
            name, colon, given_port = host.partition(":")
            given_port = given_port if colon else "80"
        if not given_port.isdigit() or int(given_port) != port:
            return False
        name = name.lower().rstrip(".")
        try:
            local_ip = _unmapped(ipaddress.ip_address(local))
        except ValueError:
            return True  # not an IP connection (a Unix socket): nothing to rebind to
        try:
            return _unmapped(ipaddress.ip_address(name)) == local_ip
        except ValueError:
            return name in self.own_names or (name == "localhost" and local_ip.is_loopback)


def _unmapped(address):
    return getattr(address, "ipv4_mapped", None) or address


def _is_json(content_type):
    media_type, *parameters = [part.strip().lower() for part in content_type.split(";")]
    charset = [p.split("=", 1)[1].strip('"') for p in parameters if p.startswith("charset=")]
    return media_type == "application/json" and all(c == "utf-8" for c in charset)
