#!/usr/bin/env python3
"""Checks on the built APK that fail the offline build (standard library and aapt2 only).

  apk_checks.py manifest APK --variant qnn|noqnn
      Reads the linked binary manifest (`aapt2 dump xmltree`), i.e. what a phone's package manager
      sees, not our source manifest: the <uses-native-library> entries survived linking (the GPU
      delegate's OpenCL libraries; libcdsprpc.so, QNN's FastRPC, in the qnn variant), BenchmarkActivity
      can only be started by the shell, the app is not debuggable, native libraries are extracted.
  apk_checks.py elf APK --known-4k NAME ...
      Reports the ELF PT_LOAD alignment of every lib/arm64-v8a/*.so. A library whose segments are
      aligned to less than 16 KB cannot be loaded by a kernel with 16 KB pages, however the zip entry
      is aligned. The libraries named with --known-4k are reported as such without failing the build;
      any other one fails it.
"""
import argparse
import re
import struct
import subprocess
import sys
import zipfile

PAGE_16K = 16384
# The shell user holds DUMP; no third-party app can be granted it (signature|privileged|development).
SHELL_ONLY_PERMISSION = "android.permission.DUMP"
BENCHMARK_ACTIVITY = "org.abpn.app.BenchmarkActivity"
OPENCL_LIBS = ("libOpenCL.so", "libOpenCL-pixel.so", "libOpenCL-car.so")
FASTRPC_LIB = "libcdsprpc.so"


class Element:
    def __init__(self, name, indent, parent):
        self.name, self.indent, self.parent = name, indent, parent
        self.attrs, self.children = {}, []

    def find_all(self, name):
        for c in self.children:
            if c.name == name:
                yield c
            yield from c.find_all(name)


_ATTR = re.compile(r'^(?:\S+:)?([\w-]+)(?:\(0x[0-9a-f]+\))?=(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def parse_xmltree(text):
    """aapt2's xmltree dump: 'E: tag' lines nest by indentation, 'A: ns:name(id)=value' follow their element."""
    root = Element("#root", -1, None)
    stack = [root]
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if body.startswith("E: "):
            while stack[-1].indent >= indent:
                stack.pop()
            e = Element(body[3:].split(" (line=")[0], indent, stack[-1])
            stack[-1].children.append(e)
            stack.append(e)
        elif body.startswith("A: "):
            while stack[-1].indent >= indent:
                stack.pop()
            m = _ATTR.match(body[3:])
            if m:
                stack[-1].attrs[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    return root


def check_manifest(apk, variant):
    dump = subprocess.run(["aapt2", "dump", "xmltree", "--file", "AndroidManifest.xml", apk],
                          check=True, capture_output=True, text=True).stdout
    root = parse_xmltree(dump)
    application = next(root.find_all("application"), None)
    if application is None:
        return ["no <application> in the linked manifest"]
    problems = []

    native = {e.attrs.get("name"): e.attrs.get("required") for e in application.find_all("uses-native-library")}
    wanted = list(OPENCL_LIBS) + ([FASTRPC_LIB] if variant == "qnn" else [])
    for lib in wanted:
        if lib not in native:
            problems.append(f'<uses-native-library android:name="{lib}"> is missing from the linked manifest: '
                            "apps targeting API 31+ cannot open that vendor library without it")
        elif native[lib] != "false":
            problems.append(f"<uses-native-library {lib}> must be required=false (phones without it must still install the app)")
    print(f"manifest: uses-native-library {', '.join(sorted(n for n in native if n))}")

    bench = [a for a in application.find_all("activity") if a.attrs.get("name") in (BENCHMARK_ACTIVITY, ".BenchmarkActivity")]
    if not bench:
        problems.append(f"no {BENCHMARK_ACTIVITY} in the linked manifest")
    for a in bench:
        has_filter = any(c.name == "intent-filter" for c in a.children)
        exported = a.attrs.get("exported", "true" if has_filter else "false") == "true"
        permission = a.attrs.get("permission")
        if exported and permission != SHELL_ONLY_PERMISSION:
            problems.append(
                f"{BENCHMARK_ACTIVITY} is exported with permission={permission!r}: any app on the phone could start "
                f'benchmarks. Guard it with android:permission="{SHELL_ONLY_PERMISSION}" (the shell holds it, '
                "third-party apps cannot) or do not export it")
        else:
            how = f"permission {permission}" if exported else "not exported"
            print(f"manifest: {BENCHMARK_ACTIVITY} is guarded ({how})")

    if application.attrs.get("debuggable") == "true":
        problems.append("the application is debuggable (debuggable builds distort timings)")
    else:
        print("manifest: not debuggable")
    if application.attrs.get("extractNativeLibs") != "true":
        problems.append("extractNativeLibs is not true (QNN loads its skel libraries from nativeLibraryDir)")
    else:
        print("manifest: extractNativeLibs=true")
    return problems


def load_alignments(data):
    """The p_align of each PT_LOAD segment of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    aligns = []
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type == 1:  # PT_LOAD
            aligns.append(struct.unpack_from("<Q", data, phoff + i * phentsize + 48)[0])
    return aligns


def check_elf(apk, known_4k):
    problems = []
    with zipfile.ZipFile(apk) as z:
        libs = sorted(n for n in z.namelist() if n.startswith("lib/arm64-v8a/") and n.endswith(".so"))
        for name in libs:
            lib = name.rsplit("/", 1)[1]
            try:
                aligns = load_alignments(z.read(name))
            except (ValueError, struct.error) as e:
                problems.append(f"{name}: {e}")
                continue
            align = min(aligns) if aligns else 0
            if align >= PAGE_16K:
                print(f"ELF LOAD alignment: {lib}: {align // 1024} KB: loads on 4 KB and 16 KB page kernels")
                continue
            msg = (f"{lib}: {align // 1024} KB (0x{align:x}): CANNOT LOAD on Android 15 and earlier with a 16 KB-page kernel "
                   "(the zip entry's 16 KB offset does not change that); Android 16+ loads it in its 16 KB backcompat mode")
            if lib in known_4k:
                print(f"ELF LOAD alignment: {msg} [known: TFLite 2.16.1 from Maven Central is built this way; "
                      "the Gradle build's LiteRT is 16 KB aligned]")
            else:
                problems.append(f"ELF LOAD alignment: {msg}")
    if not libs:
        problems.append("no lib/arm64-v8a/*.so in the APK")
    return problems


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("manifest")
    m.add_argument("apk")
    m.add_argument("--variant", choices=["qnn", "noqnn"], required=True)
    e = sub.add_parser("elf")
    e.add_argument("apk")
    e.add_argument("--known-4k", nargs="*", default=[])
    args = p.parse_args()
    problems = check_manifest(args.apk, args.variant) if args.cmd == "manifest" else check_elf(args.apk, set(args.known_4k))
    for problem in problems:
        print(f"APK CHECK FAILED ({args.apk}): {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
