"""abpn.model.div2k against a real local HTTP server that speaks Range and can drop connections."""
import hashlib
import io
import re
import socket
import stat
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from abpn.model import data
from abpn.model import div2k
from abpn.cli import main
from abpn.errors import AbpnError


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless ``server.ignore_range``; for a name
    in ``server.drop_after`` it announces the full length, sends that many bytes and hangs up."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        folder, _, name = self.path.rpartition("/")
        self.server.requests.append((name, self.headers.get("Range")))
        body = self.server.files.get(name) if folder == "/DIV2K" else None
        if body is None:
            self.send_error(404)
            return
        if self.server.errors.get(name):
            self.send_error(self.server.errors[name].pop(0))
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not self.server.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = self.server.drop_after.pop(name, None)
        if cut is not None:
            self.wfile.write(body[start:start + cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.drop_after, httpd.ignore_range = {}, [], {}, False
    httpd.errors = {}  # name -> HTTP status codes to answer with first, one per request
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/DIV2K/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _div2k_archives(split, names):
    """The four-archive DIV2K layout in miniature: 198x198 HR images and their x3 LR."""
    hr_members, lr_members = {}, {}
    for i, name in enumerate(names):
        rng = np.random.default_rng(i)
        hr = np.asarray(Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).resize((198, 198)))
        hr_members[f"DIV2K_{split}_HR/{name}.png"] = _png(hr)
        lr_members[f"DIV2K_{split}_LR_bicubic/X3/{name}x3.png"] = _png(data.make_lr(hr))
    # real DIV2K zips carry a padding of noise too big to ship here; this makes the files span many
    # read chunks so that a dropped connection really lands mid-file
    hr_members[f"DIV2K_{split}_HR/.padding"] = np.random.default_rng(9).bytes(3 << 20)
    return {f"DIV2K_{split}_HR.zip": _zip(hr_members), f"DIV2K_{split}_LR_bicubic_X3.zip": _zip(lr_members)}


@pytest.fixture
def div2k_server(server):
    server.files.update(_div2k_archives("train", ["0001", "0002"]))
    server.files.update(_div2k_archives("valid", ["0801"]))
    return server


def test_download_unpack_then_train_on_it(div2k_server, tmp_path):
    dest = tmp_path / "div2k"
    checksums = {name: (len(body), hashlib.sha256(body).hexdigest()) for name, body in div2k_server.files.items()}
    folders = div2k.download_div2k(dest, base_url=div2k_server.url, checksums=checksums, progress=False)
    assert [f.relative_to(dest).as_posix() for f in folders] == [
        "DIV2K_train_HR", "DIV2K_train_LR_bicubic/X3", "DIV2K_valid_HR", "DIV2K_valid_LR_bicubic/X3"]
    assert sorted(p.name for p in (dest / "DIV2K_train_HR").glob("*.png")) == ["0001.png", "0002.png"]
    assert not list((dest / ".downloads").glob("*.zip")) and not list((dest / ".downloads").glob("*.part"))

    pairs = data.find_pairs(dest)
    assert [(p.hr.name, p.lr.name) for p in pairs] == [
        ("0001.png", "0001x3.png"), ("0002.png", "0002x3.png"), ("0801.png", "0801x3.png")]
    split = data.prepare_data(dest, cache_dir=tmp_path / "cache", progress=False)
    assert (len(split.train), len(split.val)) == (2, 1)

    served = len(div2k_server.requests)
    again = div2k.download_div2k(dest, base_url=div2k_server.url, checksums=checksums, progress=False)
    assert again == folders and len(div2k_server.requests) == served  # a no-op


def test_resumes_after_a_dropped_connection(div2k_server, tmp_path):
    name = "DIV2K_valid_HR.zip"
    div2k_server.drop_after[name] = len(div2k_server.files[name]) // 3
    div2k.download_div2k(tmp_path, base_url=div2k_server.url, only="valid", keep_archives=True,
                         checksums={}, progress=False)
    ranges = [r for n, r in div2k_server.requests if n == name]
    assert ranges == [None, f"bytes={len(div2k_server.files[name]) // 3}-"]
    assert (tmp_path / ".downloads" / name).read_bytes() == div2k_server.files[name]
    assert (tmp_path / "DIV2K_valid_HR" / "0801.png").is_file()


def test_resumes_a_partial_file_from_an_earlier_run(div2k_server, tmp_path):
    name = "DIV2K_valid_LR_bicubic_X3.zip"
    body = div2k_server.files[name]
    (tmp_path / ".downloads").mkdir()
    (tmp_path / ".downloads" / f"{name}.part").write_bytes(body[:100])
    div2k.download(div2k_server.url + name, tmp_path / ".downloads" / name, progress=False)
    assert div2k_server.requests == [(name, "bytes=100-")]
    assert (tmp_path / ".downloads" / name).read_bytes() == body

    # a server that ignores Range: the download starts over instead of appending a second copy
    div2k_server.ignore_range = True
    (tmp_path / ".downloads" / f"{name}.part").write_bytes(body[:100])
    div2k.download(div2k_server.url + name, tmp_path / ".downloads" / "again.zip", progress=False)
    assert (tmp_path / ".downloads" / "again.zip").read_bytes() == body

    # a part file that already holds everything: the server answers 416 and nothing is refetched
    div2k_server.ignore_range = False
    (tmp_path / ".downloads" / "whole.zip.part").write_bytes(body)
    div2k.download(div2k_server.url + name, tmp_path / ".downloads" / "whole.zip", progress=False)
    assert (tmp_path / ".downloads" / "whole.zip").read_bytes() == body


def test_gives_up_when_the_connection_keeps_dropping(div2k_server, tmp_path, monkeypatch):
    monkeypatch.setattr(div2k, "_ATTEMPTS", 2)
    name = "DIV2K_valid_HR.zip"

    class AlwaysDrop(dict):
        def pop(self, key, default=None):
            return 1000 if key == name else default

    div2k_server.drop_after = AlwaysDrop()
    with pytest.raises(AbpnError, match="did not complete after 2 attempts; run the command again"):
        div2k.download_div2k(tmp_path, base_url=div2k_server.url, only="valid", checksums={}, progress=False)
    assert (tmp_path / ".downloads" / f"{name}.part").stat().st_size == 2000  # kept for resuming
    assert not (tmp_path / "DIV2K_valid_HR").exists()


@pytest.mark.parametrize("verification", ["sha256", "zip crc"])
def test_corrupted_download_is_detected(div2k_server, tmp_path, verification):
    name = "DIV2K_valid_HR.zip"
    body = bytearray(div2k_server.files[name])
    checksums = {name: (len(body), hashlib.sha256(body).hexdigest())} if verification == "sha256" else {}
    first = zipfile.ZipFile(io.BytesIO(bytes(body))).infolist()[0]
    body[first.header_offset + 30 + len(first.filename) + 5] ^= 0xFF  # inside the first member's data
    div2k_server.files[name] = bytes(body)
    with pytest.raises(AbpnError, match="corrupted.*run the command again"):
        div2k.download_div2k(tmp_path, base_url=div2k_server.url, only="valid", checksums=checksums,
                             progress=False)
    assert not (tmp_path / ".downloads" / name).exists()
    assert not (tmp_path / "DIV2K_valid_HR").exists()


def test_official_sizes_and_checksums_are_checked_by_default(div2k_server, tmp_path):
    with pytest.raises(AbpnError, match=r"DIV2K_valid_HR.zip is corrupted \(\d+ bytes instead of 448993893\)"):
        div2k.download_div2k(tmp_path, base_url=div2k_server.url, only="valid", progress=False)


def _zip_with_symlink(name, target):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    return buffer.getvalue()


@pytest.mark.parametrize("members", [
    {"DIV2K_valid_HR/0801.png": b"x", "DIV2K_valid_HR/../../evil": b"owned"},
    {"DIV2K_valid_HR/0801.png": b"x", "../evil": b"owned"},
    {"/tmp/evil": b"owned"},
    {"C:/evil": b"owned"},
    "symlink",
])
def test_unsafe_archives_are_refused(tmp_path, members):
    archive = tmp_path / "dl" / "DIV2K_valid_HR.zip"
    archive.parent.mkdir()
    archive.write_bytes(_zip_with_symlink("DIV2K_valid_HR/link", "/etc/passwd") if members == "symlink"
                        else _zip(members))
    dest = tmp_path / "dest"
    with pytest.raises(AbpnError, match="refusing to unpack"):
        div2k.unpack(archive, dest, "DIV2K_valid_HR")
    assert not (tmp_path / "evil").exists() and not (dest / "DIV2K_valid_HR").exists()
    assert not (dest / ".downloads" / "DIV2K_valid_HR.unpacking").exists()


def test_malicious_download_is_refused(server, tmp_path):
    server.files["DIV2K_valid_HR.zip"] = _zip({"DIV2K_valid_HR/0801.png": b"x", "../evil": b"owned"})
    with pytest.raises(AbpnError, match="refusing to unpack"):
        div2k.download_div2k(tmp_path / "dest", base_url=server.url, only="valid", checksums={}, progress=False)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "dest" / "DIV2K_valid_HR").exists()


def test_archive_without_the_div2k_layout_is_refused(server, tmp_path):
    server.files["DIV2K_valid_HR.zip"] = _zip({"other/0801.png": b"x"})
    with pytest.raises(AbpnError, match="does not contain DIV2K_valid_HR/"):
        div2k.download_div2k(tmp_path, base_url=server.url, only="valid", checksums={}, progress=False)
    assert not (tmp_path / "other").exists()


def test_an_interrupted_unpack_is_redone(div2k_server, tmp_path):
    staging = tmp_path / ".downloads" / "DIV2K_valid_HR.unpacking" / "DIV2K_valid_HR"
    staging.mkdir(parents=True)
    (staging / "stale.png").write_bytes(b"half")
    div2k.download_div2k(tmp_path, base_url=div2k_server.url, only="valid", checksums={}, progress=False)
    assert sorted(p.name for p in (tmp_path / "DIV2K_valid_HR").iterdir()) == [".padding", "0801.png"]


def test_http_errors_are_reported(server, tmp_path):
    with pytest.raises(AbpnError, match="HTTP 404"):
        div2k.download_div2k(tmp_path, base_url=server.url, only="valid", checksums={}, progress=False)


def test_a_busy_server_is_retried(div2k_server, tmp_path):
    div2k_server.errors["DIV2K_valid_HR.zip"] = [503, 502]
    div2k.download_div2k(tmp_path, base_url=div2k_server.url, only="valid", checksums={}, progress=False)
    assert (tmp_path / "DIV2K_valid_HR" / "0801.png").is_file()
    assert [n for n, _ in div2k_server.requests].count("DIV2K_valid_HR.zip") == 3


def test_a_place_that_cannot_be_written_is_reported_at_once(div2k_server, tmp_path):
    part = tmp_path / ".downloads" / "DIV2K_valid_HR.zip.part"
    part.mkdir(parents=True)  # in the way of the file, even for root
    with pytest.raises(AbpnError, match=r"cannot write .*DIV2K_valid_HR.zip.part: Is a directory; free some space"):
        div2k.download_div2k(tmp_path, base_url=div2k_server.url, only="valid", checksums={}, progress=False)
    assert len(div2k_server.requests) == 1  # not retried

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the destination folder should be")
    with pytest.raises(AbpnError, match="cannot write .*blocked/.downloads"):
        div2k.download_div2k(blocked, base_url=div2k_server.url, only="valid", checksums={}, progress=False)


def test_cli(div2k_server, tmp_path, monkeypatch):
    monkeypatch.setattr(div2k, "KNOWN_ARCHIVES", {})
    result = CliRunner().invoke(main, ["data", "div2k", "--dest", str(tmp_path), "--base-url",
                                       div2k_server.url, "--only", "valid"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(tmp_path / "DIV2K_valid_HR"),
                                     str(tmp_path / "DIV2K_valid_LR_bicubic" / "X3")]
    result = CliRunner().invoke(main, ["data", "div2k", "--dest", str(tmp_path), "--base-url",
                                       div2k_server.url.replace("DIV2K", "nothing"), "--only", "train"])
    assert result.exit_code == 1 and "Error: cannot download" in result.output and "404" in result.output


def test_unreachable_server_is_reported(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AbpnError, match="cannot reach .*--base-url"):
        div2k.download_div2k(tmp_path, base_url=f"http://127.0.0.1:{port}/", only="valid", checksums={}, progress=False)
