"""abpn.core.filekinds: a file given as an input must be what the option says, checked from its bytes."""
import zipfile
from pathlib import Path

import pytest

from abpn.core.filekinds import check_kind, manifest_package
from abpn.errors import AbpnError
from apk_helpers import binary_manifest, write_apk


@pytest.mark.parametrize("utf8", [False, True])
def test_the_apps_apk_passes_with_either_string_encoding(tmp_path, utf8):
    check_kind(write_apk(tmp_path / "app.apk", utf8=utf8), "apk")
    assert manifest_package(binary_manifest("org.abpn.app", utf8=utf8)) == "org.abpn.app"


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("notes, not an app"), "is not an APK (an APK is a zip file"),
    (lambda p: write_apk(p, manifest=False), "a zip without AndroidManifest.xml"),
    (lambda p: write_apk(p, "com.example.other"), "is the APK of com.example.other, not of this project's app"),
    (lambda p: write_apk(p, manifest=b'<manifest package="org.abpn.app"/>'), "not Android binary XML"),
    (lambda p: write_apk(p, manifest=binary_manifest("org.abpn.app")[:60]), "cannot be read"),
    (lambda p: write_apk(p, manifest=binary_manifest("org.abpn.app", element="application")), "not <manifest>"),
])
def test_anything_else_given_as_an_apk_is_refused_with_the_reason(tmp_path, make, words):
    path = tmp_path / "app.apk"
    make(path)
    with pytest.raises(AbpnError, match="app.apk") as info:
        check_kind(path, "apk")
    assert words in str(info.value)


BUILT_APK = Path(__file__).resolve().parents[1] / "android" / "offline-out" / "abpn.apk"


@pytest.mark.skipif(not BUILT_APK.is_file(), reason="android/offline-out/abpn.apk does not exist: run "
                    "android/build-offline first (make test runs it before pytest; with CI=true this skip fails)")
def test_the_apk_the_build_makes_passes():
    """The parser against the real build's compiled manifest, not only against the tests' own."""
    check_kind(BUILT_APK, "apk")


def test_models_and_checkpoints_are_recognised_by_their_bytes(tmp_path, float_keras_model):
    (tmp_path / "notes.tflite").write_text("not a model")
    with pytest.raises(AbpnError, match="not a TFLite model"):
        check_kind(tmp_path / "notes.tflite", "tflite")
    float_keras_model.save(tmp_path / "best.keras")
    check_kind(tmp_path / "best.keras", "keras")
    check_kind(tmp_path, "keras")  # a run folder holding best.keras
    float_keras_model.save(tmp_path / "model.h5")
    check_kind(tmp_path / "model.h5", "keras")
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as archive:
        archive.writestr("readme.txt", "a zip, not a model")
    with pytest.raises(AbpnError, match="not a Keras model"):
        check_kind(tmp_path / "other.keras", "keras")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AbpnError, match="holds no best.keras"):
        check_kind(tmp_path / "empty", "keras")
    with pytest.raises(AbpnError, match="not an SQLite database"):
        check_kind(tmp_path / "notes.tflite", "sqlite")
