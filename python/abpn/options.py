"""The command line's value types: every number, size, path and URL option of every command is one of these.

Each type refuses a bad value while the command line is parsed, before any work, with a usage error
(exit status 2) that names the option and says what it takes; the numeric types state their range
in --help. tests/test_options.py walks every option of every command and fails for an option that
takes a number or a path without one of these types.
"""
import math

import click

from abpn.core.files import check_output_path
from abpn.core.urls import http_url_problem
from abpn.errors import AbpnError


class FiniteFloat(click.FloatRange):
    """A real number between two bounds. nan and inf are refused: click's FloatRange lets nan through,
    since every comparison with nan is false."""

    name = "number"

    def __init__(self, min, max, *, min_open=False, max_open=False):
        super().__init__(min, max, min_open=min_open, max_open=max_open)

    def convert(self, value, param, ctx):
        try:
            number = click.FLOAT.convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a number; give one in the range {self._describe_range()}.", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; give one in the range {self._describe_range()}.",
                      param, ctx)
        return super().convert(number, param, ctx)


class BoundedInt(click.IntRange):
    """A whole number between two bounds (both required: no option takes any integer)."""

    name = "integer"

    def __init__(self, min, max):
        super().__init__(min, max)

    def convert(self, value, param, ctx):
        try:
            number = click.INT.convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a whole number; give one in the range {self._describe_range()}.", param, ctx)
        return super().convert(number, param, ctx)


class HttpUrl(click.ParamType):
    """An http:// or https:// address with a host (`example` shows what one looks like)."""

    name = "url"

    def __init__(self, example):
        self.example = example

    def convert(self, value, param, ctx):
        problem = http_url_problem(value)
        if problem:
            self.fail(f"{value!r}: {problem}; give a URL such as {self.example}", param, ctx)
        return value


class PhoneTarget(click.ParamType):
    """A phone as ADB names it: a USB serial, or HOST:PORT (bench.device.parse_target's rule)."""

    name = "serial or host:port"

    def convert(self, value, param, ctx):
        from abpn.bench.device import parse_target

        try:
            parse_target(value)
        except AbpnError as error:
            self.fail(str(error), param, ctx)
        return value.strip()


class FactorList(click.ParamType):
    """Comma-separated numbers strictly between two bounds, e.g. 0.9,0.8,0.7."""

    name = "factors"

    def __init__(self, low, high):
        self.low, self.high = low, high

    def convert(self, value, param, ctx):
        if isinstance(value, (tuple, list)):
            return tuple(value)
        factors = []
        for part in (p.strip() for p in str(value).split(",")):
            if not part:
                continue
            try:
                factor = float(part)
            except ValueError:
                factor = math.nan
            if not (math.isfinite(factor) and self.low < factor < self.high):
                self.fail(f"{part!r} in {value!r}: give numbers between {self.low:g} and {self.high:g} "
                          "(exclusive) separated by commas, like 0.9,0.8,0.7", param, ctx)
            factors.append(factor)
        return tuple(factors)


class ImageSize(click.ParamType):
    """HEIGHTxWIDTH in pixels, both at least 1, at most `max_pixels` in all."""

    name = "HxW"

    def __init__(self, max_hw):
        self.max_hw = tuple(max_hw)

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            height, width = (int(v) for v in str(value).lower().split("x"))
        except ValueError:
            self.fail(f"{value!r}: give HEIGHTxWIDTH, e.g. 360x640", param, ctx)
        if height < 1 or width < 1:
            self.fail(f"{value!r}: height and width must be positive", param, ctx)
        limit = self.max_hw[0] * self.max_hw[1]
        if height * width > limit:
            self.fail(f"{value!r}: at most {limit} pixels ({self.max_hw[0]}x{self.max_hw[1]}); larger inputs do "
                      "not fit in memory", param, ctx)
        return height, width


class OutputPath(click.ParamType):
    """A file or folder a command writes: checked by abpn.core.files.check_output_path (a parent that is a
    file, an unwritable place, an SQLite database or one of its -wal/-shm/-journal files, a folder where a
    file belongs or the reverse). `parents`: the command creates missing folders on the way."""

    def __init__(self, *, folder=False, parents=False, database=False):
        self.folder, self.parents, self.database = folder, parents, database
        self.name = "folder" if folder else "file"

    def convert(self, value, param, ctx):
        try:
            check_output_path(value, folder=self.folder, parents=self.parents, database=self.database)
        except AbpnError as error:
            self.fail(str(error), param, ctx)
        return str(value)


class InputPath(click.ParamType):
    """An existing file or folder a command reads. `kind` names what the file must be (see
    abpn.core.filekinds): checked from its first bytes here, before any work."""

    def __init__(self, *, folder=False, kind=None, file_or_folder=False):
        self.folder, self.kind, self.file_or_folder = folder, kind, file_or_folder
        self.name = "folder" if folder else "path" if file_or_folder else "file"

    def convert(self, value, param, ctx):
        from pathlib import Path

        from abpn.core.filekinds import check_kind

        path = Path(value)
        if not path.exists():
            self.fail(f"{value}: no such {self.name}" + (" (a broken link)" if path.is_symlink() else ""), param, ctx)
        if not self.file_or_folder:
            if self.folder and not path.is_dir():
                self.fail(f"{value} is a file; give a folder", param, ctx)
            if not self.folder and path.is_dir():
                self.fail(f"{value} is a folder; give a file", param, ctx)
        if self.kind:
            try:
                check_kind(path, self.kind)
            except AbpnError as error:
                self.fail(str(error), param, ctx)
        return str(value)


class ModelPath(InputPath):
    """MODEL of the commands that upscale: the word `bicubic`, or a model file (abpn.core.filekinds.check_model)."""

    def __init__(self):
        super().__init__(kind="model", file_or_folder=True)
        self.name = "model"

    def convert(self, value, param, ctx):
        from abpn.model.inference import BICUBIC

        return value if value == BICUBIC else super().convert(value, param, ctx)
