"""--device pointed at something that is not an ADB daemon: the error says what answered, instead of a
"timed out" that sends the user looking at the network."""
import socket
import threading

import pytest

from abpn.bench.device import Phone, load_signer
from abpn.errors import AbpnError
from collector_helpers import live_server


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return load_signer(tmp_path_factory.mktemp("adb") / "adbkey")


def _connect(target, signer):
    with pytest.raises(AbpnError) as info:
        Phone(target, signer, transport_timeout_s=2, auth_timeout_s=2, read_timeout_s=2).connect()
    return str(info.value)


def test_the_collector_at_device_is_named_a_web_server(tmp_path, signer):
    # uvicorn waits for the end of a request line, so the ADB handshake meets silence; asked in HTTP, it answers.
    with live_server(tmp_path / "c.sqlite") as url:
        message = _connect(url.split("//")[1].rstrip("/"), signer)
    assert "answers HTTP ('HTTP/1.1 " in message and "not an ADB daemon" in message, message
    assert "Wireless debugging" in message


def test_a_peer_speaking_another_protocol_at_once_is_named(signer):
    """An SSH server sends its identification string first (RFC 4253, section 4.2)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            connection.recv(1024)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        message = _connect(f"127.0.0.1:{port}", signer)
    finally:
        server.close()
    assert "answered in another protocol" in message and "SSH-2.0" in message and "not an ADB daemon" in message
