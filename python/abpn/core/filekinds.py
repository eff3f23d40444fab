"""What a file given as an input must be, checked from its bytes before any work: an APK of the app, a
TFLite model, a Keras checkpoint, an SQLite database. One check per kind, shared by every command
(abpn.options.InputPath runs it while the command line is parsed). No TensorFlow here.
"""
import struct
import zipfile
from pathlib import Path

from abpn import APP_PACKAGE
from abpn.core.files import is_sqlite_database
from abpn.errors import AbpnError

TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of every .tflite
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The best float model of a training run folder (`abpn-tool train --out DIR`).
BEST_MODEL = "best.keras"

# Android's binary XML (frameworks/base libs/androidfw/include/androidfw/ResourceTypes.h).
_RES_XML_TYPE = 0x0003
_RES_STRING_POOL_TYPE = 0x0001
_RES_XML_START_ELEMENT_TYPE = 0x0102
_UTF8_FLAG = 1 << 8
_TYPE_STRING = 0x03


def _head(path, count):
    with open(path, "rb") as file:
        return file.read(count)


def _string_pool(data, start):
    """The strings of the ResStringPool chunk at `start`."""
    _, header_size, _, count, _, flags, strings_start, _ = struct.unpack_from("<HHIIIIII", data, start)
    offsets = struct.unpack_from(f"<{count}I", data, start + header_size)
    strings = []
    for offset in offsets:
        at = start + strings_start + offset
        if flags & _UTF8_FLAG:
            at += 2 if data[at] & 0x80 else 1  # length in characters
            length = data[at]
            if length & 0x80:
                length, at = ((length & 0x7F) << 8) | data[at + 1], at + 2
            else:
                at += 1
            strings.append(data[at:at + length].decode("utf-8", "replace"))
        else:
            (length,) = struct.unpack_from("<H", data, at)
            at += 2
            if length & 0x8000:
                (low,) = struct.unpack_from("<H", data, at)
                length, at = ((length & 0x7FFF) << 16) | low, at + 2
            strings.append(data[at:at + 2 * length].decode("utf-16-le", "replace"))
    return strings


def manifest_package(manifest):
    """The `package` attribute of the <manifest> element of a compiled (binary XML) AndroidManifest.xml;
    ValueError when the bytes are not one."""
    try:
        kind, header_size, _ = struct.unpack_from("<HHI", manifest, 0)
        if kind != _RES_XML_TYPE:
            raise ValueError("not Android binary XML")
        at, strings = header_size, None
        while at + 8 <= len(manifest):
            chunk, chunk_header, size = struct.unpack_from("<HHI", manifest, at)
            if size < 8:
                raise ValueError("a chunk of size 0")
            if chunk == _RES_STRING_POOL_TYPE:
                strings = _string_pool(manifest, at)
            elif chunk == _RES_XML_START_ELEMENT_TYPE and strings is not None:
                body = at + chunk_header
                _, name, attr_start, attr_size, attr_count = struct.unpack_from("<IIHHH", manifest, body)
                if strings[name] != "manifest":
                    raise ValueError(f"the first element is <{strings[name]}>, not <manifest>")
                for i in range(attr_count):
                    _, attr_name, raw, _, _, data_type, value = struct.unpack_from(
                        "<IIIHBBI", manifest, body + attr_start + i * attr_size)
                    if strings[attr_name] == "package":
                        if raw != 0xFFFFFFFF:
                            return strings[raw]
                        if data_type == _TYPE_STRING:
                            return strings[value]
                raise ValueError("<manifest> has no package attribute")
            at += size
    except (struct.error, IndexError, UnicodeDecodeError) as error:
        raise ValueError(f"truncated or malformed binary XML ({error})") from error
    raise ValueError("no <manifest> element")


def check_apk(path, package=APP_PACKAGE):
    """An APK is a zip whose AndroidManifest.xml (binary XML) names `package`."""
    path = Path(path)
    advice = "pass the app's APK (android/README.md says how to build it)"
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = archive.read("AndroidManifest.xml")
    except KeyError:
        raise AbpnError(f"{path} is a zip without AndroidManifest.xml, so not an APK; {advice}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise AbpnError(f"{path} is not an APK (an APK is a zip file: {error}); {advice}") from None
    try:
        found = manifest_package(manifest)
    except ValueError as error:
        raise AbpnError(f"{path}: its AndroidManifest.xml cannot be read ({error}); {advice}") from None
    if found != package:
        raise AbpnError(f"{path} is the APK of {found}, not of this project's app {package}; {advice}")


def is_tflite(content):
    """Whether `content` (the first 8 bytes suffice) carries the TFLite flatbuffer identifier."""
    return content[4:8] == TFLITE_IDENTIFIER


def check_tflite(path):
    if not is_tflite(_head(path, 8)):
        raise AbpnError(f"{path} is not a TFLite model (no TFL3 identifier). Pass a .tflite made by "
                        "`abpn-tool quantize`.")


def keras_checkpoint_file(path):
    """The checkpoint file of `path`: the file itself, or the best model in a training run folder."""
    path = Path(path)
    if path.is_dir():
        if not (path / BEST_MODEL).is_file():
            raise AbpnError(f"{path} holds no {BEST_MODEL}: pass a training run folder (`abpn-tool train --out DIR`) "
                            f"or its {BEST_MODEL}.")
        return path / BEST_MODEL
    return path


def check_keras_checkpoint(path):
    """A Keras model file: a .keras zip (config.json and the weights) or an HDF5 .h5, or a run folder
    holding one."""
    file = keras_checkpoint_file(path)
    head = _head(file, 8)
    if head == HDF5_SIGNATURE:
        return
    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            if "config.json" in archive.namelist():
                return
        raise AbpnError(f"{file} is a zip but not a Keras model (no config.json); pass a best.keras written by "
                        "`abpn-tool train`.")
    raise AbpnError(f"{file} is not a Keras checkpoint (neither a .keras zip nor HDF5); pass a best.keras "
                    "written by `abpn-tool train`, or its run folder.")


def check_sqlite(path):
    if not is_sqlite_database(path):
        raise AbpnError(f"{path} is not an SQLite database; pass the file `abpn-tool serve --db` or "
                        "`push-and-bench --db` writes.")


def check_model(path):
    """A model the upscaling commands run: a .tflite, a Keras checkpoint (a .keras or .h5 file, weights
    included, or a run folder), or TensorFlow checkpoint weights (.index)."""
    path = Path(path)
    if path.suffix == ".tflite":
        return check_tflite(path)
    if path.is_dir() or path.suffix in (".keras", ".h5"):
        return check_keras_checkpoint(path)
    if path.suffix == ".index":
        return None
    head = _head(path, 8)
    if not (is_tflite(head) or head == HDF5_SIGNATURE or zipfile.is_zipfile(path)):
        raise AbpnError(f"{path} is neither a TFLite model nor a Keras checkpoint; pass a .tflite, a best.keras "
                        "(or its training run folder), or the word bicubic.")
    return None


KINDS = {"apk": check_apk, "tflite": check_tflite, "keras": check_keras_checkpoint, "model": check_model,
         "sqlite": check_sqlite}


def check_kind(path, kind):
    """Raises AbpnError unless the file at `path` is a `kind` (one of KINDS)."""
    try:
        KINDS[kind](path)
    except IsADirectoryError:
        raise AbpnError(f"{path} is a folder; give a file") from None
    except OSError as error:
        raise AbpnError(f"cannot read {path}: {error.strerror or error}") from None
