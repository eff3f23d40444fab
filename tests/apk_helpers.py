"""Minimal real APKs for the tests: a zip holding an AndroidManifest.xml in Android's binary XML, the form
aapt2 writes (chunk layout from frameworks/base libs/androidfw/include/androidfw/ResourceTypes.h)."""
import struct
import zipfile

_NO_INDEX = 0xFFFFFFFF


def _string_pool(strings, utf8):
    blobs = []
    for text in strings:
        if utf8:
            encoded = text.encode()
            blobs.append(bytes([len(text), len(encoded)]) + encoded + b"\0")
        else:
            blobs.append(struct.pack("<H", len(text)) + text.encode("utf-16-le") + b"\0\0")
    offsets, at = [], 0
    for blob in blobs:
        offsets.append(at)
        at += len(blob)
    data = b"".join(blobs)
    data += b"\0" * (-len(data) % 4)
    header_size = 28
    strings_start = header_size + 4 * len(strings)
    size = strings_start + len(data)
    return (struct.pack("<HHIIIIII", 0x0001, header_size, size, len(strings), 0, (1 << 8) if utf8 else 0,
                        strings_start, 0) + struct.pack(f"<{len(strings)}I", *offsets) + data)


def binary_manifest(package, *, element="manifest", utf8=False):
    """AndroidManifest.xml as aapt2 compiles it, reduced to its first element and a package attribute."""
    strings = ["versionCode", "package", element, package]
    attribute = struct.pack("<IIIHBBI", _NO_INDEX, strings.index("package"), strings.index(package), 8, 0, 0x03,
                            strings.index(package))
    ext = struct.pack("<IIHHHHHH", _NO_INDEX, strings.index(element), 20, 20, 1, 0, 0, 0)
    body = struct.pack("<II", 1, _NO_INDEX) + ext + attribute
    element_chunk = struct.pack("<HHI", 0x0102, 16, 8 + len(body)) + body
    pool = _string_pool(strings, utf8)
    return struct.pack("<HHI", 0x0003, 8, 8 + len(pool) + len(element_chunk)) + pool + element_chunk


def write_apk(path, package="org.abpn.app", *, manifest=None, utf8=False):
    """An APK-shaped zip: the manifest (compiled from `package` unless given as bytes) and a dex stub."""
    with zipfile.ZipFile(path, "w") as archive:
        if manifest is not False:
            archive.writestr("AndroidManifest.xml", manifest if manifest is not None else
                             binary_manifest(package, utf8=utf8))
        archive.writestr("classes.dex", b"dex\n035\0")
    return path
