"""android/offline/apk_checks.py on APKs built here: the ELF objects under lib/arm64-v8a/ are real ELF
headers written byte by byte, as the linkers write them."""
import importlib.util
import struct
import zipfile
from pathlib import Path

import pytest

EM_ARM, EM_QDSP6, EM_AARCH64 = 40, 164, 183
PT_LOAD = 1


@pytest.fixture(scope="module")
def apk_checks():
    path = Path(__file__).resolve().parents[1] / "android" / "offline" / "apk_checks.py"
    spec = importlib.util.spec_from_file_location("apk_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def elf64_aarch64(align):
    """A shared object's ELF64 header and one PT_LOAD program header (System V gABI layout)."""
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)  # ELFCLASS64, little-endian, EV_CURRENT
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, EM_AARCH64, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    return header + struct.pack("<IIQQQQQQ", PT_LOAD, 5, 0, 0, 0, 0x1000, 0x1000, align)


def elf32(machine, flags=0):
    """A 32-bit shared object's ELF header and one PT_LOAD (4 KB aligned), e.g. a Hexagon skel library:
    e_machine EM_QDSP6 (164), e_flags the Hexagon architecture version (0x73 for v73)."""
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)  # ELFCLASS32, little-endian, EV_CURRENT
    header = ident + struct.pack("<HHIIIIIHHHHHH", 3, machine, 1, 0, 52, 0, flags, 52, 32, 1, 40, 0, 0)
    return header + struct.pack("<IIIIIIII", PT_LOAD, 0, 0, 0, 0x1000, 0x1000, 5, 0x1000)


def make_apk(path, libs):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in libs.items():
            z.writestr(f"lib/arm64-v8a/{name}", data)
    return path


def test_hexagon_skel_libraries_are_checked_as_hexagon_objects(apk_checks, tmp_path, capsys):
    apk = make_apk(tmp_path / "qnn.apk", {"libQnnHtp.so": elf64_aarch64(16384),
                                          "libQnnHtpV73Skel.so": elf32(EM_QDSP6, flags=0x73)})
    assert apk_checks.check_elf(str(apk), set()) == []
    out = capsys.readouterr().out
    assert "Hexagon DSP object: libQnnHtpV73Skel.so: 32-bit Hexagon (QDSP6) ELF" in out
    assert "libQnnHtp.so: 16 KB: loads on 4 KB and 16 KB page kernels" in out


def test_other_foreign_objects_and_4k_libraries_still_fail(apk_checks, tmp_path):
    apk = make_apk(tmp_path / "bad.apk", {"libarm32.so": elf32(EM_ARM), "libsmall.so": elf64_aarch64(4096)})
    problems = apk_checks.check_elf(str(apk), set())
    assert any("libarm32.so: a 32-bit ELF for machine 40, neither AArch64 (183) nor Hexagon (164)" in p
               for p in problems)
    assert any("libsmall.so: 4 KB (0x1000): CANNOT LOAD" in p for p in problems)
    assert apk_checks.check_elf(str(apk), {"libsmall.so"}) == problems[:1]  # a known 4 KB library only reported
