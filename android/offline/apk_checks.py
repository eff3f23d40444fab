#!/usr/bin/env python3
"""Checks on the built APK that fail the offline build (standard library and aapt2 only).

  apk_checks.py manifest APK --variant qnn|noqnn
      Reads the linked binary manifest (`aapt2 dump xmltree`), i.e. what a phone's package manager
      sees, not our source manifest: the <uses-native-library> entries survived linking (the GPU
      delegate's OpenCL libraries; libcdsprpc.so, QNN's FastRPC, in the qnn variant), BenchmarkActivity
      can only be started by the shell, the app is not debuggable, native libraries are extracted,
      and the Firebase Test Lab game loop is declared as Test Lab reads it (game_loop below).
  apk_checks.py elf APK --known-4k NAME ...
      Reports the ELF PT_LOAD alignment of every AArch64 lib/arm64-v8a/*.so. A library whose segments are
      aligned to less than 16 KB cannot be loaded by a kernel with 16 KB pages, however the zip entry
      is aligned. The libraries named with --known-4k are reported as such without failing the build;
      any other one fails it. Hexagon DSP objects there (the QNN runtime AAR's skel libraries) are
      checked as Hexagon objects: the DSP loads them through FastRPC, never the phone's linker.
"""
import argparse
import re
import struct
import subprocess
import sys
import zipfile

PAGE_16K = 16384
# ELF e_machine values (the System V gABI registry, as binutils' include/elf/common.h lists them).
EM_AARCH64, EM_QDSP6 = 183, 164
# The shell user holds DUMP; no third-party app can be granted it (signature|privileged|development).
SHELL_ONLY_PERMISSION = "android.permission.DUMP"
BENCHMARK_ACTIVITY = "org.abpn.app.BenchmarkActivity"
OPENCL_LIBS = ("libOpenCL.so", "libOpenCL-pixel.so", "libOpenCL-car.so")
FASTRPC_LIB = "libcdsprpc.so"
# Firebase Test Lab's game loop (firebase.google.com/docs/test-lab/android/game-loop; TFLite's
# tools/benchmark/experimental/firebase/android/AndroidManifest.xml): this intent filter on the
# activity, com.google.test.loops (the number of loops) and com.google.test.loops.<label> in <application>.
TEST_LOOP_ACTIVITY = "org.abpn.app.TestLoopActivity"
TEST_LOOP_ACTION = "com.google.intent.action.TEST_LOOP"
TEST_LOOP_CATEGORY = "android.intent.category.DEFAULT"
TEST_LOOP_MIME = "application/javascript"
LOOPS_META = "com.google.test.loops"
# org.abpn.core.TestLoop: 1 cpu, 2 gpu, 3 nnapi, 4 qnn_htp, 5 all; the build without QNN cannot run 4.
EXPECTED_LOOPS = {
    "qnn": {"loops": 5, "labels": {"abpn_runnable": "1-5", "abpn_single": "1-4"}},
    "noqnn": {"loops": 5, "labels": {"abpn_runnable": "1-3,5", "abpn_single": "1-3"}},
}


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


def linked_manifest(apk):
    dump = subprocess.run(["aapt2", "dump", "xmltree", "--file", "AndroidManifest.xml", apk],
                          check=True, capture_output=True, text=True).stdout
    return parse_xmltree(dump)


def _number(value):
    """aapt2 prints an integer attribute as 5, 0x5 or (type 0x10)0x5 depending on its version."""
    if value is None:
        return None
    text = re.sub(r"^\(type 0x[0-9a-f]+\)", "", value)
    try:
        return int(text, 0)
    except ValueError:
        return None


def game_loop(root):
    """What Test Lab reads from the linked manifest: the loop activity's intent filters, the number of
    loops and the labels (name without the com.google.test.loops. prefix -> value)."""
    application = next(root.find_all("application"), None)
    found = {"filters": [], "loops": None, "labels": {}}
    if application is None:
        return found
    for activity in application.find_all("activity"):
        if activity.attrs.get("name") not in (TEST_LOOP_ACTIVITY, ".TestLoopActivity"):
            continue
        found["exported"] = activity.attrs.get("exported")
        for f in activity.find_all("intent-filter"):
            found["filters"].append({
                "actions": [c.attrs.get("name") for c in f.find_all("action")],
                "categories": [c.attrs.get("name") for c in f.find_all("category")],
                "mime_types": [c.attrs.get("mimeType") for c in f.find_all("data")],
            })
    for meta in (c for c in application.children if c.name == "meta-data"):
        name = meta.attrs.get("name") or ""
        if name == LOOPS_META:
            found["loops"] = _number(meta.attrs.get("value"))
        elif name.startswith(LOOPS_META + "."):
            found["labels"][name[len(LOOPS_META) + 1:]] = meta.attrs.get("value")
    return found


def check_game_loop(root, variant):
    loop = game_loop(root)
    want = EXPECTED_LOOPS[variant]
    problems = []
    wanted_filter = {"actions": [TEST_LOOP_ACTION], "categories": [TEST_LOOP_CATEGORY], "mime_types": [TEST_LOOP_MIME]}
    if wanted_filter not in loop["filters"]:
        problems.append(f"{TEST_LOOP_ACTIVITY} lacks Test Lab's intent filter {wanted_filter} (found {loop['filters']})")
    if loop.get("exported") not in ("true", "0xffffffff", "(type 0x12)0xffffffff"):
        problems.append(f"{TEST_LOOP_ACTIVITY} must be exported for Test Lab to start it (exported={loop.get('exported')!r})")
    if loop["loops"] != want["loops"]:
        problems.append(f"<meta-data {LOOPS_META}> is {loop['loops']!r}, want {want['loops']} (scenarios 1..5)")
    if loop["labels"] != want["labels"]:
        problems.append(f"game-loop labels {loop['labels']} differ from the {variant} build's {want['labels']}")
    if not problems:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(loop["labels"].items()))
        print(f"manifest: game loop declared: {TEST_LOOP_ACTIVITY} ({TEST_LOOP_ACTION}), {loop['loops']} loops, {labels}")
    return problems


def check_manifest(apk, variant):
    root = linked_manifest(apk)
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
    problems += check_game_loop(root, variant)
    return problems


def elf_machine(data):
    """(ELF class: 32 or 64, e_machine) of a little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] != 1:
        raise ValueError("not a little-endian ELF file")
    machine, = struct.unpack_from("<H", data, 0x12)
    return (32 if data[4] == 1 else 64), machine


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
            data = z.read(name)
            try:
                kind = elf_machine(data)
                if kind == (32, EM_QDSP6):
                    # The QNN runtime ships its DSP skel libraries under lib/arm64-v8a/ so that they land in
                    # nativeLibraryDir, where FastRPC reads them for the DSP; Android's linker never maps them.
                    print(f"Hexagon DSP object: {lib}: 32-bit Hexagon (QDSP6) ELF, loaded by the DSP through "
                          "FastRPC; the 16 KB page rule does not apply")
                    continue
                if kind != (64, EM_AARCH64):
                    problems.append(f"{name}: a {kind[0]}-bit ELF for machine {kind[1]}, neither AArch64 (183) nor "
                                    "Hexagon (164): it does not belong under lib/arm64-v8a/")
                    continue
                aligns = load_alignments(data)
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
