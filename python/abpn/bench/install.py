"""Installing the app, and what a phone's own restrictions print when they stop an install or an input
event, turned into what to do.

Each known answer names where its wording comes from; anything else is shown as the phone said it.
"""
from abpn.bench.device import PACKAGE, PHONE_DIR, CommandHeld
from abpn.errors import AbpnError

REMOTE_APK = f"{PHONE_DIR}/abpn-app.apk"
# A 30 MB APK installs in seconds and dex2oat rarely takes a minute; longer means something holds it.
INSTALL_TIMEOUT_S = 120.0

# pm install prints "Failure [" + message + "]" (PackageManagerShellCommand). Each code: what to do.
INSTALL_FAILURES = {
    # Xiaomi MIUI/HyperOS refuse shell installs unless Developer options > "Install via USB" is on (it asks
    # for a Mi account); a "no" on the phone's own install prompt gives the same code.
    "INSTALL_FAILED_USER_RESTRICTED":
        "the phone refused an install over USB. On Xiaomi, Redmi and POCO phones (MIUI/HyperOS) turn on "
        "Developer options > 'Install via USB' (it asks for a Mi account and a SIM), then run again and accept "
        "the install prompt on the phone's screen if one comes up",
    # Play Protect ("Verify apps over USB") rejected the APK, or gave up waiting for the user
    # (PackageManager verification: the verifier may extend its timeout up to MAXIMUM_VERIFICATION_TIMEOUT).
    "INSTALL_FAILED_VERIFICATION_FAILURE":
        "Play Protect rejected the app. Answer its prompt on the phone with 'Install anyway', or turn off "
        "Developer options > 'Verify apps over USB', then run again",
    "INSTALL_FAILED_VERIFICATION_TIMEOUT":
        "Play Protect's check of the app timed out. Answer its prompt on the phone, or turn off Developer "
        "options > 'Verify apps over USB', then run again",
    "INSTALL_FAILED_INSUFFICIENT_STORAGE": "not enough space on the phone to install the app. Free some space and "
                                           "run again",
}
HELD_INSTALL_ADVICE = (
    "Something on the phone holds the install: Play Protect's 'Verify apps over USB' waits for an answer to its "
    "prompt ('Scan app?' / 'Install anyway') for up to an hour, and Xiaomi phones ask whether to allow an install "
    "over USB. Look at the phone's screen and answer it, or turn off Developer options > 'Verify apps over USB', "
    "then run again")

# `input` is `cmd input` since Android 12: a SecurityException is printed after BasicShellCommandHandler's
# "Exception occurred while executing '<command>':" line, with exit status 255. Xiaomi phones refuse
# injected input from the shell until "USB debugging (Security settings)" is on (scrcpy's FAQ, issue #70).
INPUT_REFUSED = "INJECT_EVENTS permission"
INPUT_REFUSED_ADVICE = (
    "the phone refuses input events from the shell (`input keyevent`: SecurityException, INJECT_EVENTS). On "
    "Xiaomi, Redmi and POCO phones turn on Developer options > 'USB debugging (Security settings)' and reboot "
    "the phone once")


def input_refused(result):
    """True when `input` was refused by the phone's policy (not a missing tool or a typo)."""
    return INPUT_REFUSED in result.output


def install_app(phone, target, apk_name, say, timeout_s=None):
    """Installs the pushed APK and removes it; an AbpnError saying what to do when the phone refuses."""
    timeout_s = INSTALL_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        installed = phone.install_apk(REMOTE_APK, timeout_s)
    except CommandHeld as error:
        raise AbpnError(f"{target}: installing the app gave no answer within {timeout_s:g} s. "
                        f"{HELD_INSTALL_ADVICE}.") from error
    finally:
        removed = phone.remove(REMOTE_APK)
    if not removed.ok:
        say(f"could not remove {REMOTE_APK} ({removed.output.strip() or f'exit status {removed.exit_code}'}); "
            "it is left on the phone")
    if installed.ok and "Success" in installed.output:
        return
    detail = installed.output.strip() or f"no output, exit status {installed.exit_code}"
    if "INSTALL_FAILED_UPDATE_INCOMPATIBLE" in detail:
        raise AbpnError(
            f"{target}: the {PACKAGE} installed on the phone is signed with another key than {apk_name}, so "
            f"Android refuses to update it ({detail}). Uninstalling it deletes the results it keeps on the phone, "
            f"so abpn-tool never does that itself: to replace it, run `adb -s {target} uninstall {PACKAGE}` "
            "yourself and run again, or pass an APK signed with the installed app's key.")
    for code, advice in INSTALL_FAILURES.items():
        if code in detail:
            raise AbpnError(f"{target}: installing the app failed ({detail}): {advice}.")
    raise AbpnError(f"{target}: installing the app failed: {detail}")
