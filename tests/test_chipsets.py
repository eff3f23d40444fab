"""One chipset, one name: the spellings real phones report through getprop all lead to one row.

Each row below is what a phone's getprop gives, taken from the build files that set the property
(commit and file cited). ro.board.platform is TARGET_BOARD_PLATFORM; ro.hardware is the bootloader's
androidboot.hardware, which init uses to load init.${ro.hardware}.rc, so a tree's init.<name>.rc names it.
"""
import pytest

from abpn.collector.store import chipset_of
from abpn.record import chipsets
from abpn.record.chipsets import chipset_name

GETPROP = [
    # (phone, ro.soc.manufacturer, ro.soc.model, ro.board.platform, ro.hardware, name, source)
    ("Pixel 8 Pro (husky)", "Google", "Tensor G3", "zuma", "zuma", "Google Tensor G3",
     "GrapheneOS/device_google_zuma@e45d601: vendor.prop ro.soc.model=Tensor G3, device-common.mk "
     "ro.soc.manufacturer=Google, device.mk TARGET_BOARD_PLATFORM := zuma, conf/init.zuma.rc"),
    ("Pixel 7 (panther)", "Google", "GS201", "gs201", "gs201", "Google Tensor G2",
     "GrapheneOS/device_google_gs201@3eb0885: device-common.mk ro.soc.model=GS201, device.mk "
     "TARGET_BOARD_PLATFORM := gs201, conf/init.gs201.rc"),
    ("Pixel 6 (oriole)", "Google", "Tensor", "gs101", "gs101", "Google Tensor",
     "GrapheneOS/device_google_gs101@f75779d: device-common.mk ro.soc.manufacturer=Google, ro.soc.model=Tensor; "
     "device.mk TARGET_BOARD_PLATFORM := gs101, conf/init.gs101.rc"),
    ("Pixel 5 (redfin)", "Qualcomm", "SM7250", "lito", None, "Snapdragon 765G",
     "GrapheneOS/device_google_redbull@34ae284: device-common.mk ro.soc.model=SM7250, "
     "BoardConfig-common.mk TARGET_BOARD_PLATFORM := lito"),
    ("Xiaomi Mi 10 / Poco F2 Pro (sm8250-common)", "QTI", "SM8250", "kona", "qcom", "Snapdragon 865",
     "LineageOS/android_device_xiaomi_sm8250-common@a097e5d: vendor.prop ro.soc.manufacturer=QTI, "
     "ro.soc.model=SM8250; BoardConfigCommon.mk TARGET_BOARD_PLATFORM := kona, androidboot.hardware=qcom"),
    ("Galaxy S10 (exynos9820-common)", None, "Exynos 9820", "universal9820", "exynos9820", "Exynos 9820",
     "LineageOS/android_device_samsung_exynos9820-common@5f3f3ee: BoardConfig9820.mk TARGET_BOARD_PLATFORM := "
     "universal9820; configs/init/init.exynos9820.rc: on property:ro.hardware=exynos9820 "
     "setprop ro.soc.model \"Exynos 9820\""),
    ("Pixel 4 (coral), Android 11: no ro.soc.model", None, None, "msmnile", "coral", "Snapdragon 855 / 855+ / 860",
     "GrapheneOS/device_google_coral@c1da1d1: BoardConfig-common.mk TARGET_BOARD_PLATFORM := msmnile, "
     "coral/init.coral.rc"),
]


@pytest.mark.parametrize("phone, manufacturer, soc_model, board, hardware, name, source", GETPROP,
                         ids=[row[0] for row in GETPROP])
def test_every_spelling_a_phone_reports_leads_to_one_name(phone, manufacturer, soc_model, board, hardware, name,
                                                          source):
    # The whole set, and each property alone (an older app or Android version reports less).
    assert chipset_name(soc_model, board, hardware) == name
    for alone in (soc_model, board):
        if alone and (alone != board or chipsets.known_name(board) == name):
            assert chipsets.known_name(alone) == name, alone
    # A name the record already carries, as the table spells it or as manufacturer + model, is the same row.
    spellings = [name, name.upper()] + ([f"{manufacturer} {soc_model}"] if manufacturer and soc_model else [])
    for spelling in spellings:
        assert chipset_name(None, None, None, reported=spelling) == name, spelling


def test_the_pixel_8_pro_is_one_row_whichever_fields_its_record_has():
    """Issue 18: "Google Tensor G3" from hardware: zuma and "Tensor G3" from soc_model were two rows."""
    device = {"kind": "phone", "manufacturer": "Google", "model": "Pixel 8 Pro"}
    spellings = [{"hardware": "zuma"}, {"soc_model": "Tensor G3"}, {"board_platform": "zuma"},
                 {"soc_model": "Tensor G3", "soc_manufacturer": "Google", "hardware": "zuma", "board_platform": "zuma"},
                 {"chipset_name": "Tensor G3"}, {"chipset_name": "Google Tensor G3"}, {"soc_model": "ZUMA"}]
    assert {chipset_of({**device, **fields}) for fields in spellings} == {"Google Tensor G3"}


@pytest.mark.parametrize("spelling, name", [
    ("Qualcomm® Snapdragon™ 888", "Snapdragon 888"),
    ("Qualcomm Technologies, Inc SM8650", "Snapdragon 8 Gen 3"),
    ("SM8650-AB", "Snapdragon 8 Gen 3"),
    ("MT6983Z/CZA", "Dimensity 9000"),
    ("exynos 2200", "Exynos 2200"),
    ("Samsung Exynos2200", "Exynos 2200"),
    ("SM8250-AC", "Snapdragon 870"),
])
def test_vendor_names_marks_and_suffixes_are_spellings(spelling, name):
    assert chipsets.known_name(spelling) == name


def test_unknown_parts_stay_as_reported_and_a_part_beats_a_family():
    assert chipset_name("SM9999", "pineapple") == "SM9999"
    assert chipset_name(None, "mystery", "qcom") == "mystery"
    assert chipset_name(None, None, None) is None


def test_no_spelling_means_two_chips():
    assert chipsets.CONFLICTS == []


def test_a_spelling_learned_later_renames_the_stored_rows(tmp_path, monkeypatch):
    from abpn.collector import report
    from abpn.collector.store import Store
    from record_samples import phone_record

    db = tmp_path / "results.db"
    Store(db).add(phone_record("SM9998", board_platform=None))
    Store(db).add(phone_record(None, board_platform="futureplatform"))
    assert {r["chipset"] for r in report.store_report(Store(db))["sections"][0]["rows"]} == {"SM9998",
                                                                                         "futureplatform"}
    # The table learns the chip (a merge adds its lines): both spellings become one row on the next start.
    monkeypatch.setitem(chipsets.SOC_MODELS, "SM9998", "Snapdragon Future")
    monkeypatch.setitem(chipsets.PLATFORMS, "futureplatform", "Snapdragon Future")
    monkeypatch.setattr(chipsets, "_INDEX", chipsets._index()[0])  # what importing the merged module builds
    monkeypatch.setattr(chipsets, "FINGERPRINT", "changed")
    rows = report.store_report(Store(db))["sections"][0]["rows"]
    assert [(r["chipset"], r["runs"]) for r in rows] == [("Snapdragon Future", 2)]
