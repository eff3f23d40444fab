#!/usr/bin/env python3
"""Assembles and checks the offline build's APK (standard library only).

  apk_zip.py assemble OUT BASE_APK --dex DIR --lib SO ...
      OUT = the entries of aapt2's BASE_APK, the classes*.dex of DIR, and each SO as
      lib/arm64-v8a/<name>, stored (uncompressed). Assets ending in .tflite are stored too, so the
      app can map them (Debian's aapt2 compresses -A assets whatever -0 says). Stored entries start on a 4-byte boundary,
      shared libraries on a 16 KB one (Android 15+ devices with 16 KB pages map them in place).
  apk_zip.py check APK
      Fails unless every .so and .tflite is stored, every .so 16 KB aligned and every other stored
      entry 4-byte aligned.
"""
import argparse
import os
import struct
import sys
import zipfile

LIB_ALIGN = 16384
ALIGN = 4
# zipalign's extra-field id for alignment padding; readers skip unknown ids.
PAD_ID = 0xD935


def _padding(offset, name, align):
    """Extra-field bytes that put the data of an entry whose local header starts at offset on align."""
    header = 30 + len(name.encode("utf-8"))
    pad = (-(offset + header)) % align
    if pad == 0:
        return b""
    if pad < 4:  # an extra field needs at least its 4-byte header
        pad += align
    return struct.pack("<HH", PAD_ID, pad - 4) + b"\0" * (pad - 4)


def _write(out, name, data, stored, align):
    info = zipfile.ZipInfo(name, date_time=(2008, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.create_system = 0
    info.external_attr = 0
    if stored:
        info.extra = _padding(out.fp.tell(), name, align)
    out.writestr(info, data)


def assemble(args):
    with zipfile.ZipFile(args.base) as base, zipfile.ZipFile(args.out, "w") as out:
        for item in base.infolist():
            stored = item.compress_type == zipfile.ZIP_STORED or item.filename.endswith(".tflite")
            _write(out, item.filename, base.read(item), stored, ALIGN)
        dexes = sorted(f for f in os.listdir(args.dex) if f.startswith("classes") and f.endswith(".dex"))
        if not dexes:
            sys.exit(f"no classes*.dex in {args.dex}")
        for d in dexes:
            with open(os.path.join(args.dex, d), "rb") as f:
                _write(out, d, f.read(), False, ALIGN)
        for so in args.lib:
            with open(so, "rb") as f:
                _write(out, "lib/arm64-v8a/" + os.path.basename(so), f.read(), True, LIB_ALIGN)


def _data_offset(fp, info):
    fp.seek(info.header_offset)
    header = fp.read(30)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def check(args):
    bad = []
    libs = 0
    with open(args.apk, "rb") as fp, zipfile.ZipFile(args.apk) as z:
        for info in z.infolist():
            is_lib = info.filename.startswith("lib/") and info.filename.endswith(".so")
            if (is_lib or info.filename.endswith(".tflite")) and info.compress_type != zipfile.ZIP_STORED:
                bad.append(f"{info.filename}: compressed (must be stored: the phone maps it in place)")
                continue
            if info.compress_type != zipfile.ZIP_STORED:
                continue
            align = LIB_ALIGN if is_lib else ALIGN
            off = _data_offset(fp, info)
            if off % align:
                bad.append(f"{info.filename}: data at {off}, not a multiple of {align}")
            libs += is_lib
    if bad:
        sys.exit("APK alignment check failed:\n  " + "\n  ".join(bad))
    print(f"zip alignment ok: {libs} native libraries stored at 16 KB zip offsets (their ELF alignment is checked separately)")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("assemble")
    a.add_argument("out")
    a.add_argument("base")
    a.add_argument("--dex", required=True)
    a.add_argument("--lib", action="append", default=[])
    c = sub.add_parser("check")
    c.add_argument("apk")
    args = p.parse_args()
    assemble(args) if args.cmd == "assemble" else check(args)


if __name__ == "__main__":
    main()
