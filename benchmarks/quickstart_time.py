"""Wall time of `abpn-tool quickstart` from scratch (issue 2 target: under 15 minutes on 2 cores).

Runs the command in a fresh temporary folder (the decoded-image cache included), prints its
output as it goes, then its wall time and the closing table.

    python benchmarks/quickstart_time.py
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MINUTES = 15


def main():
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ABPN_CACHE_DIR": str(Path(tmp) / "cache")}
        command = [sys.executable, "-m", "abpn", "quickstart", "--out", str(Path(tmp) / "out")]
        start = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        minutes = (time.perf_counter() - start) / 60
    if result.returncode != 0:
        sys.exit(f"quickstart failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    table = result.stdout[result.stdout.index("\nmodel ") + 1:]
    print(f"cores: {os.cpu_count()}")
    print(f"quickstart wall time: {minutes:.1f} min (target: under {TARGET_MINUTES}) -> "
          f"{'met' if minutes < TARGET_MINUTES else 'NOT met'}")
    print()
    print(table.rstrip())


if __name__ == "__main__":
    main()
