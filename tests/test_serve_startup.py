"""`serve` takes its port before anything else: on a port in use it creates no database and announces no
dashboard."""
import socket

from click.testing import CliRunner

from abpn.cli import main


def test_a_busy_port_fails_before_the_database_exists(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "x.sqlite"), "--port", str(port)])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output, result.output
    assert "pass another --port" in result.output and "dashboard at" not in result.output
    assert list(tmp_path.iterdir()) == []
