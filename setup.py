"""Copies the shipped models into the wheel (abpn/shipped/), so that `pip install` of a wheel can
run `abpn-tool bench-host` with no MODEL. models/ stays the one source of truth: the Android build
and the model card read it, and a checkout (or an editable install) uses it directly."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("abpn_x3_int8.tflite", "abpn_x3_int8_int8io.tflite", "abpn_x3_int8_dynamic.tflite")


class BuildPyWithShippedModels(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return  # an editable install reads models/ in the checkout
        target = Path(self.build_lib) / "abpn" / "shipped"
        target.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED:
            source = ROOT / "models" / name
            if not source.is_file():
                raise SystemExit(f"{source} is missing: the wheel would ship no model for bench-host")
            shutil.copyfile(source, target / name)


setup(cmdclass={"build_py": BuildPyWithShippedModels})
