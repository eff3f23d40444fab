#!/usr/bin/env python3
"""Merges the manifest entries that libraries (AARs) declare into the app's manifest.

  merge_manifest.py [--sdk MIN TARGET] [--version CODE NAME] [--placeholder NAME=VALUE ...] APP_MANIFEST OUT PACKAGE [AAR_MANIFEST ...]

Sets the package (the Gradle build takes it from `namespace`) and android:extractNativeLibs="true"
(Gradle's useLegacyPackaging does the same: QNN loads its skel libraries from nativeLibraryDir), then adds each library's
<uses-permission>, <uses-feature> and <application> children that the app does not declare yet
(same element and android:name). A library's <uses-sdk> and package are dropped, as Gradle's merger does.
--sdk and --version write <uses-sdk> and the version attributes (aapt2 takes them as flags, but
Robolectric reads this text manifest: the target SDK decides behaviour such as edge-to-edge).
--placeholder fills ${NAME} in the app manifest's attributes, as Gradle's manifestPlaceholders do
(the game loop's labels differ per flavour); a placeholder left unfilled is an error.
"""
import re
import sys
import xml.etree.ElementTree as ET

A = "{http://schemas.android.com/apk/res/android}"
ET.register_namespace("android", A[1:-1])
TOP_LEVEL = ("uses-permission", "uses-feature", "queries")


def key(el):
    return el.tag, el.get(A + "name")


def fill_placeholders(root, values):
    for el in root.iter():
        for attr, value in el.attrib.items():
            for name in re.findall(r"\$\{(\w+)\}", value):
                if name not in values:
                    sys.exit(f"<{el.tag} {el.get(A + 'name')}> uses ${{{name}}}: pass --placeholder {name}=VALUE")
                value = value.replace("${" + name + "}", values[name])
            el.set(attr, value)


def main():
    args = sys.argv[1:]
    sdk = version = None
    placeholders = {}
    while args and args[0].startswith("--"):
        if args[0] == "--sdk":
            sdk, args = args[1:3], args[3:]
        elif args[0] == "--version":
            version, args = args[1:3], args[3:]
        elif args[0] == "--placeholder":
            name, _, value = args[1].partition("=")
            placeholders[name], args = value, args[2:]
        else:
            sys.exit(f"unknown option {args[0]}")
    app_path, out, package, *libs = args
    tree = ET.parse(app_path)
    root = tree.getroot()
    root.set("package", package)
    fill_placeholders(root, placeholders)
    if version:
        root.set(A + "versionCode", version[0])
        root.set(A + "versionName", version[1])
    if sdk:
        uses_sdk = ET.Element("uses-sdk", {A + "minSdkVersion": sdk[0], A + "targetSdkVersion": sdk[1]})
        root.insert(0, uses_sdk)
    application = root.find("application")
    application.set(A + "extractNativeLibs", "true")
    have = {key(e) for e in root} | {key(e) for e in application}
    for lib in libs:
        lroot = ET.parse(lib).getroot()
        lib_package = lroot.get("package", "")
        children = [e for e in lroot if e.tag in TOP_LEVEL]
        lapp = lroot.find("application")
        app_children = list(lapp) if lapp is not None else []
        for parent, els in ((root, children), (application, app_children)):
            for e in els:
                if key(e) in have:
                    continue
                for attr, value in list(e.attrib.items()):
                    e.set(attr, value.replace("${applicationId}", package))
                    if attr == A + "name" and value.startswith("."):
                        e.set(attr, lib_package + value)
                parent.insert(0 if parent is root else len(parent), e)
                have.add(key(e))
                print(f"  merged <{e.tag} {e.get(A + 'name')}> from {lib_package or lib}")
    tree.write(out, encoding="utf-8", xml_declaration=True)


if __name__ == "__main__":
    main()
