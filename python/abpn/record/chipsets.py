"""Human names for the chipsets phones report through `getprop`: one name per chipset, however spelled.

Android 12+ (API 31) reports the exact part in `ro.soc.model`, but vendors spell it their own way:
Qualcomm gives the part number (SM8250), Google the marketing name on some Pixels ("Tensor G3") and the
part on others ("GS201"), LineageOS's Exynos trees "Exynos 9820". Older phones only give
`ro.board.platform` and `ro.hardware`, which name a platform family: several chips share one
(Snapdragon 865, 865+ and 870 are all "kona"), so those names say so rather than guess one chip.

The two tables below are the only data: every part number, platform code name and marketing name in
them, with or without the vendor's name in front ("Google Tensor G3", "Tensor G3", "zuma"), leads to the
same name. A new chip is one line in a table.
"""
import hashlib
import json
import re

# ro.soc.model -> marketing name. Keys are upper case; lookups are case-insensitive.
SOC_MODELS = {
    # Qualcomm flagship
    "SM8850": "Snapdragon 8 Elite Gen 5",
    "SM8750": "Snapdragon 8 Elite",
    "SM8650": "Snapdragon 8 Gen 3",
    "SM8635": "Snapdragon 8s Gen 3",
    "SM8550": "Snapdragon 8 Gen 2",
    "SM8475": "Snapdragon 8+ Gen 1",
    "SM8450": "Snapdragon 8 Gen 1",
    "SM8350": "Snapdragon 888",
    "SM8250-AC": "Snapdragon 870",  # SM8250 bins: the suffix is the chip here
    "SM8250-AB": "Snapdragon 865+",
    "SM8250": "Snapdragon 865",
    "SM8150": "Snapdragon 855",
    "SDM845": "Snapdragon 845",
    "MSM8998": "Snapdragon 835",
    "MSM8996": "Snapdragon 820",
    # Qualcomm upper mid-range
    "SM7675": "Snapdragon 7+ Gen 3",
    "SM7550": "Snapdragon 7 Gen 3",
    "SM7475": "Snapdragon 7+ Gen 2",
    "SM7450": "Snapdragon 7 Gen 1",
    "SM7435": "Snapdragon 7s Gen 2",
    "SM7350": "Snapdragon 780G",
    "SM7325": "Snapdragon 778G",
    "SM7250": "Snapdragon 765G",
    "SM7225": "Snapdragon 750G",
    "SM7150": "Snapdragon 730",
    "SM7125": "Snapdragon 720G",
    "SM6450": "Snapdragon 6 Gen 1",
    "SM6375": "Snapdragon 695",
    "SM6350": "Snapdragon 690",
    "SM6225": "Snapdragon 680",
    "SM6150": "Snapdragon 675",
    "SM6125": "Snapdragon 665",
    "SM6115": "Snapdragon 662",
    "SM4350": "Snapdragon 480",
    "SM4250": "Snapdragon 460",
    # MediaTek
    "MT6991": "Dimensity 9400",
    "MT6989": "Dimensity 9300",
    "MT6985": "Dimensity 9200",
    "MT6983": "Dimensity 9000",
    "MT6897": "Dimensity 8300",
    "MT6896": "Dimensity 8200",
    "MT6895": "Dimensity 8100",
    "MT6893": "Dimensity 1200",
    "MT6891": "Dimensity 1100",
    "MT6889": "Dimensity 1000+",
    "MT6886": "Dimensity 7200",
    "MT6885": "Dimensity 1000 / 1000L",
    "MT6877": "Dimensity 900 / 920 / 1080",
    "MT6853": "Dimensity 720",
    "MT6833": "Dimensity 700",
    "MT6785": "Helio G90T / G95",
    "MT6768": "Helio G85 family",
    # Google Tensor (Pixels report the code name)
    "GS101": "Google Tensor",
    "GS201": "Google Tensor G2",
    "ZUMA": "Google Tensor G3",
    "ZUMAPRO": "Google Tensor G4",
    # Samsung Exynos
    "S5E9945": "Exynos 2400",
    "S5E9925": "Exynos 2200",
    "S5E8845": "Exynos 1480",
    "S5E8835": "Exynos 1380",
    "S5E8825": "Exynos 1280",
    "EXYNOS2100": "Exynos 2100",
    "EXYNOS990": "Exynos 990",
    "EXYNOS9825": "Exynos 9825",
    "EXYNOS9820": "Exynos 9820",
}

# ro.board.platform / ro.hardware -> platform family. Keys are lower case.
PLATFORMS = {
    "sun": "Snapdragon 8 Elite",
    "pineapple": "Snapdragon 8 Gen 3",
    "kalama": "Snapdragon 8 Gen 2",
    "taro": "Snapdragon 8 Gen 1 / 8+ Gen 1",
    "lahaina": "Snapdragon 888 / 888+",
    "kona": "Snapdragon 865 / 865+ / 870",
    "msmnile": "Snapdragon 855 / 855+ / 860",
    "sdm845": "Snapdragon 845",
    "msm8998": "Snapdragon 835",
    "lito": "Snapdragon 765 / 765G / 768G",
    "atoll": "Snapdragon 720G / 732G",
    "holi": "Snapdragon 480",
    "bengal": "Snapdragon 662 / 460",
    "trinket": "Snapdragon 665",
    "gs101": "Google Tensor",
    "gs201": "Google Tensor G2",
    "zuma": "Google Tensor G3",
    "zumapro": "Google Tensor G4",
    "s5e9945": "Exynos 2400",
    "s5e9925": "Exynos 2200",
    "s5e8845": "Exynos 1480",
    "s5e8835": "Exynos 1380",
    "s5e8825": "Exynos 1280",
    "exynos2100": "Exynos 2100",
    "exynos990": "Exynos 990",
    "universal9825": "Exynos 9825",
    "universal9820": "Exynos 9820",
}

# What vendors put in front of a chip's name; "Google Tensor G3" and "Tensor G3" are one chip.
VENDOR_PREFIXES = ("qualcomm technologies, inc", "qualcomm technologies inc", "qualcomm", "qti", "google",
                   "samsung", "mediatek", "mtk")

# Vendors append steppings and bins to the part number (MT6983Z/CZA, SM8650-AC); a part number not in
# the table with its suffix is looked up without it.
_PART_NUMBER = re.compile(r"^(SM\d{4}|SDM\d{3}|MSM\d{4}|MT\d{4}|S5E\d{4})", re.IGNORECASE)
_MARKS = re.compile(r"[\u2122\u00ae\u00a9]|\((tm|r)\)", re.IGNORECASE)


def _key(value):
    """The spelling-free form of a name: case, trade marks, the vendor's name and spacing removed."""
    key = " ".join(_MARKS.sub(" ", value).replace("_", " ").lower().split())
    for prefix in VENDOR_PREFIXES:
        if key.startswith(prefix + " "):
            key = key[len(prefix) + 1:].lstrip(", ")
            break
    return key


def _index():
    """(index, conflicts): key (and key without spaces) -> name, for every part number, code name and
    name in the tables; and the spellings that two different names share (a table mistake)."""
    index, conflicts = {}, []
    for table in (SOC_MODELS, PLATFORMS):
        for identifier, name in table.items():
            for spelling in (identifier, name):
                key = _key(spelling)
                for variant in (key, key.replace(" ", "")):
                    if index.setdefault(variant, name) != name:
                        conflicts.append((spelling, index[variant], name))
    return index, conflicts


_INDEX, CONFLICTS = _index()
# Changes whenever the tables do: a collector names its stored chipsets again when it sees a new one.
FINGERPRINT = hashlib.sha256(json.dumps([SOC_MODELS, PLATFORMS, VENDOR_PREFIXES], sort_keys=True).encode()
                             ).hexdigest()[:16]


def known_name(value):
    """The table's name for one identifier (part number, code name or name, however spelled), or None."""
    value = (value or "").strip()
    if not value:
        return None
    key = _key(value)
    if key in _INDEX:
        return _INDEX[key]
    part = _PART_NUMBER.match(value)
    return SOC_MODELS.get(part.group(1).upper()) if part else None


def _clean(value):
    value = (value or "").strip()
    return value or None


def chipset_name(soc_model=None, board_platform=None, hardware=None, reported=None):
    """The chipset's one name from what the phone reports, most precise source first: ro.soc.model,
    then ro.board.platform and ro.hardware (a family where they name one), then a name the record
    already carries (`reported`, e.g. device.chipset_name).

    An `ro.soc.model` missing from the tables is returned as reported: it names one part exactly, which
    a family name from the board platform would not. None only when nothing was reported.
    """
    soc_model, board_platform, hardware, reported = (_clean(v) for v in (soc_model, board_platform, hardware,
                                                                         reported))
    if soc_model:
        return known_name(soc_model) or soc_model
    for value in (board_platform, hardware, reported):
        named = known_name(value)
        if named:
            return named
    return reported or board_platform or hardware
