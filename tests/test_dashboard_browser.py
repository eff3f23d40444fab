"""The dashboard in a real browser: headless Chromium loads it from a live collector; the DOM it built
must hold the report table and both charts, and its screenshot must show them drawn."""
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from abpn.collector.store import Store
from abpn.collector.report import ACCELERATOR_COLORS
from collector_helpers import live_server
from record_samples import failed_result, host_record, ok_result, phone_record

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package `chromium`, listed in "
                                                         "scripts/apt-packages.txt)")
BEST_CELL_BACKGROUND = (0xEA, 0xF6, 0xEA)


def _chromium(tmp_path, *args):
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode()


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.row_headers, self.images, self.header_cells = [], [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "th":
            self._in = "row" if attrs.get("scope") == "row" else "head"
            self._text = ""

    def handle_data(self, data):
        if self._in:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "th" and self._in:
            (self.row_headers if self._in == "row" else self.header_cells).append(self._text.strip())
            self._in = None


def _pixels_near(image, color, tolerance=6):
    difference = np.abs(np.asarray(image.convert("RGB"), dtype=np.int16) - np.array(color, dtype=np.int16))
    return int((difference.max(axis=2) <= tolerance).sum())


def test_dashboard_renders_table_and_charts_in_chromium(tmp_path):
    db = tmp_path / "results.db"
    store = Store(db)
    store.add(phone_record("SM8350"))
    store.add(phone_record("SM8650", board_platform="pineapple", model="Phone Two",
                           results=[ok_result("cpu", 600.0), ok_result("gpu", 150.0), ok_result("qnn_htp", 25.0),
                                    failed_result("nnapi", "failed", "NNAPI is deprecated")]))
    store.add(host_record())
    screenshot = tmp_path / "dashboard.png"  # kept in the test's folder for CI to collect
    with live_server(db) as url:
        dom = _chromium(tmp_path, "--dump-dom", url + "/")
        _chromium(tmp_path, "--window-size=1400,2600", f"--screenshot={screenshot}", url + "/")
    (tmp_path / "dashboard.dom.html").write_text(dom)

    parsed = _Dom()
    parsed.feed(dom)
    assert parsed.row_headers == ["Snapdragon 8 Gen 3", "Snapdragon 888", "Test CPU 9000 @ 3.0GHz"]
    assert parsed.header_cells[:5] == ["Chipset", "Measured by", "SoC", "Devices", "Runs"]
    assert "QNN HTP" in parsed.header_cells
    charts = [i for i in parsed.images if i.get("src", "").startswith("data:image/png;base64,")]
    assert [c["alt"] for c in charts] == ["Median latency per chipset and accelerator",
                                          "Distribution of per-record median latency"]

    with Image.open(screenshot) as image:
        assert image.size == (1400, 2600)
        # Bars and boxes in each accelerator's colour: the charts were decoded and painted.
        for accelerator in ("cpu", "gpu", "nnapi", "qnn_htp"):
            rgb = tuple(int(ACCELERATOR_COLORS[accelerator][i:i + 2], 16) for i in (1, 3, 5))
            assert _pixels_near(image, rgb) > 300, accelerator
        # The table was laid out: the best cells' green background is on screen.
        assert _pixels_near(image, BEST_CELL_BACKGROUND, tolerance=2) > 2000
