"""The app's game loop on Firebase Test Lab: the gcloud command that starts it, and the results it leaves.

`gcloud firebase test android run --type game-loop` installs the APK on every `--device` and starts
the app's TEST_LOOP activity once per scenario (android/src/main/kotlin/org/abpn/core/TestLoop.kt:
1 cpu, 2 gpu, 3 nnapi, 4 qnn_htp, 5 all). Flags as gcloud documents them
(cloud.google.com/sdk/gcloud/reference/firebase/test/android/run): --type, --app, --device
(repeatable, model=...,version=...[,locale=...,orientation=...]), --scenario-numbers,
--scenario-labels, --timeout, --results-bucket, --results-dir.

Test Lab stores each device's files in the results folder under `<model>-<version>-<locale>-<orientation>/`
(e.g. `redfin-30-en-portrait/`): the device's `logcat`, its `video.mp4`, and for a game loop
`game_loop_results/results_scenario_<N>.json`, the file whose URI the loop was given; Test Lab makes it
before the loop starts, so a loop that crashed or ran out of time leaves it empty. `collect` reads such a
tree copied down with `gsutil -m cp -r gs://BUCKET/FOLDER DIR`.
"""
import json
import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from abpn.bench.delivery import deliver
from abpn.errors import AbpnError

PACKAGE = "org.abpn.app"
SCENARIOS = {1: "cpu", 2: "gpu", 3: "nnapi", 4: "qnn_htp", 5: "all of the build's accelerators"}
# The manifest's labels (android/src/main/AndroidManifest.xml): abpn_runnable is every scenario the APK can
# run (1-5 with QNN, 1-3,5 without), so the default run never asks a build for what it lacks. The Testing
# API's AndroidTestLoop.scenarioLabels takes a label with or without its com.google.test.loops. prefix.
DEFAULT_LABEL = "abpn_runnable"
DEVICE_KEYS = ("model", "version", "locale", "orientation")
DEFAULT_TIMEOUT = "30m"
# Test Lab's folder per device: <model>-<version>-<locale>-<orientation>. Model ids may hold '-' (SC-51E).
DEVICE_DIR = re.compile(r"^(?P<model>.+)-(?P<version>\d+)-(?P<locale>[A-Za-z]{2,3}(?:_[A-Za-z0-9]+)?)-"
                        r"(?P<orientation>portrait|landscape)$")
RESULT_FILE = re.compile(r"^results_scenario_(?P<scenario>\d+)\.json$")
# Android's own crash lines (frameworks/base RuntimeInit "FATAL EXCEPTION: ", debuggerd's "Fatal signal",
# ActivityManager's "ANR in ") as they appear in the device's logcat.
CRASH_LINES = re.compile(r"FATAL EXCEPTION|Fatal signal \d+|ANR in " + re.escape(PACKAGE) + r"|Process: " + re.escape(PACKAGE))
GCLOUD_INSTALL = ("gcloud is not on PATH. Install the Google Cloud CLI (cloud.google.com/sdk/docs/install, or "
                  "Debian's google-cloud-cli package from Google's apt repository), then `gcloud auth login` and "
                  "`gcloud config set project PROJECT_ID`; or run the command above where gcloud is installed.")


# ---------------------------------------------------------------- run


def parse_device(spec):
    """`model=redfin,version=30[,locale=en,orientation=portrait]` -> dict, as gcloud's --device takes it."""
    dims = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in DEVICE_KEYS or not value or key in dims:
            raise AbpnError(f"--device {spec!r}: give model=MODEL_ID,version=VERSION_ID[,locale=L,orientation=O] "
                            "(ids from `gcloud firebase test android models list`)")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise AbpnError(f"--device {spec!r}: {key} {value!r} is not an id such as redfin or 30")
        dims[key] = value
    missing = [k for k in ("model", "version") if k not in dims]
    if missing:
        raise AbpnError(f"--device {spec!r} lacks {' and '.join(missing)}: e.g. model=redfin,version=30")
    if dims.get("orientation", "portrait") not in ("portrait", "landscape"):
        raise AbpnError(f"--device {spec!r}: orientation is portrait or landscape")
    return dims


def gcloud_command(apk, devices, *, results_bucket, results_dir, scenarios=(), labels=(), timeout=DEFAULT_TIMEOUT,
                   project=None):
    """The argv of the game-loop run. Without scenarios or labels, the APK's runnable label."""
    if not devices:
        raise AbpnError("give at least one --device model=MODEL_ID,version=VERSION_ID")
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad:
        raise AbpnError(f"--scenario {bad[0]} is not a scenario: "
                        + ", ".join(f"{n} {name}" for n, name in SCENARIOS.items()))
    if not re.fullmatch(r"\d+[smh]?", timeout):
        raise AbpnError(f"--timeout {timeout!r}: a duration such as 30m, 1800s or 1h")
    if not re.fullmatch(r"(gs://)?[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]", results_bucket):
        raise AbpnError(f"--results-bucket {results_bucket!r} is not a Cloud Storage bucket name")
    if not results_dir or results_dir.startswith("/") or ".." in results_dir.split("/"):
        raise AbpnError(f"--results-dir {results_dir!r}: a folder name inside the bucket, unique for this run")
    # Google Cloud's project id rule: 6-30 lowercase letters, digits and hyphens, a letter first, no hyphen
    # last; older projects may carry a domain, example.com:my-project.
    if project is not None and not re.fullmatch(r"([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]", project):
        raise AbpnError(f"--project {project!r} is not a Google Cloud project id (6-30 lowercase letters, digits "
                        "and hyphens, starting with a letter): `gcloud projects list` shows yours")
    bad = [label for label in labels if not re.fullmatch(r"[A-Za-z0-9._-]+", label)]
    if bad:
        raise AbpnError(f"--label {bad[0]!r}: a label name such as {DEFAULT_LABEL} (letters, digits, '.', '_', '-')")
    argv = ["gcloud", "firebase", "test", "android", "run", "--type", "game-loop", "--app", str(apk)]
    if project:
        argv += ["--project", project]
    for spec in devices:
        dims = parse_device(spec) if isinstance(spec, str) else spec
        argv += ["--device", ",".join(f"{k}={dims[k]}" for k in DEVICE_KEYS if k in dims)]
    if scenarios:
        argv += ["--scenario-numbers", ",".join(str(s) for s in scenarios)]
    if labels or not scenarios:
        argv += ["--scenario-labels", ",".join(labels or [DEFAULT_LABEL])]
    argv += ["--timeout", timeout, "--results-bucket", results_bucket.removeprefix("gs://"),
             "--results-dir", results_dir]
    return argv


def command_line(argv):
    return shlex.join(argv)


def gcloud_path():
    return shutil.which("gcloud")


def copy_down_command(results_bucket, results_dir, local_dir):
    return shlex.join(["gsutil", "-m", "cp", "-r",
                       f"gs://{results_bucket.removeprefix('gs://')}/{results_dir}", str(local_dir)])


# ---------------------------------------------------------------- collect


@dataclass
class DeviceResult:
    device_id: str
    stored: list = field(default_factory=list)      # (scenario, run_id, stored) per record delivered
    problems: list = field(default_factory=list)    # (scenario or None, reason)

    @property
    def ok(self):
        return bool(self.stored) and not self.problems


def device_dirs(tree):
    """Every Test Lab device folder under `tree` (the copied results folder, or a folder above it)."""
    tree = Path(tree)
    if not tree.is_dir():
        raise AbpnError(f"{tree} is not a folder: copy the results down first, "
                        "e.g. gsutil -m cp -r gs://BUCKET/FOLDER DIR")
    found = sorted(p for p in tree.rglob("*") if p.is_dir() and DEVICE_DIR.match(p.name))
    if not found:
        raise AbpnError(f"no Test Lab device folder (MODEL-VERSION-LOCALE-ORIENTATION, e.g. redfin-30-en-portrait) "
                        f"under {tree}: is it the folder `gsutil -m cp -r gs://BUCKET/FOLDER` made?")
    return found


def test_lab_reason(device_dir):
    """Why Test Lab says the loop ended badly, from the files beside its results: the failures of its
    JUnit report (test_result_*.xml) and Android's crash lines for the app in the device's logcat."""
    reasons = []
    for report in sorted(device_dir.glob("test_result_*.xml")):
        try:
            root = ET.parse(report).getroot()
        except ET.ParseError as error:
            reasons.append(f"{report.name} is not readable XML ({error})")
            continue
        for el in root.iter():
            if el.tag in ("failure", "error"):
                text = " ".join(filter(None, (el.get("message"), (el.text or "").strip()))).strip()
                reasons.append(f"Test Lab: {text or el.tag}")
    logcat = device_dir / "logcat"
    if logcat.is_file():
        lines = logcat.read_text(errors="replace").splitlines()
        picked = []
        for i, line in enumerate(lines):
            if CRASH_LINES.search(line):
                # AndroidRuntime's exception follows its "Process:" line.
                picked += lines[i:i + (2 if "Process: " in line else 1)]
        picked = [_message(line) for line in dict.fromkeys(picked)]
        if picked:
            reasons.append("logcat: " + " | ".join(picked[:4]))
    return "; ".join(dict.fromkeys(reasons))


def _message(line):
    """A threadtime logcat line without its date, time, pids and level: `Tag: message`."""
    m = re.match(r"^\d\d-\d\d \S+\s+\d+\s+\d+ [VDIWEF] (.*)$", line.strip())
    return re.sub(r"\s+:", ":", m.group(1), count=1) if m else line.strip()


def _with_source(record, *, device_id, matrix_id, scenario):
    """The record as the app wrote it, plus what only the host knows: Test Lab's device folder and matrix."""
    source = dict(record.get("source") or {"kind": "test-lab"})
    source["device_id"] = device_id
    if matrix_id:
        source["matrix_id"] = matrix_id
    source.setdefault("scenario", scenario)
    return {**record, "source": source}


def collect(tree, sink, *, out_dir, matrix_id=None):
    """Stores every device's game-loop records; one DeviceResult per device folder, problems named."""
    results = []
    for folder in device_dirs(tree):
        result = DeviceResult(folder.name)
        files = sorted((folder / "game_loop_results").glob("results_scenario_*.json"))
        reason = test_lab_reason(folder)
        if not files:
            result.problems.append((None, f"no game_loop_results/results_scenario_N.json: the loop did not run"
                                          f"{': ' + reason if reason else ''}"))
        for path in files:
            scenario = int(RESULT_FILE.match(path.name)["scenario"])
            result_reason = _deliver_one(path, scenario, result, sink, out_dir, matrix_id, reason)
            if result_reason:
                result.problems.append((scenario, result_reason))
        results.append(result)
    return results


def _deliver_one(path, scenario, result, sink, out_dir, matrix_id, reason):
    """Stores one results file; returns why it could not, or None."""
    content = path.read_bytes()
    beside = f" ({reason})" if reason else " (Test Lab's files give no reason: was --timeout too short?)"
    if not content.strip():
        return f"the loop wrote nothing to {path.name}{beside}"
    try:
        written = json.loads(content)
    except ValueError as error:
        return f"{path.name} is not JSON ({error}){beside}"
    if not isinstance(written, dict) or "run_id" not in written:
        return f"{path.name} is not a result record{beside}"
    if set(written) == {"run_id", "error"}:
        return f"the app could not make a record: {written['error']}"
    record = _with_source(written, device_id=result.device_id, matrix_id=matrix_id, scenario=scenario)
    try:
        delivered = deliver(json.dumps(record).encode(), out_dir=out_dir, run_id=record["run_id"], sink=sink,
                            label=f"{result.device_id} scenario {scenario}")
    except AbpnError as error:
        return str(error)
    result.stored.append((scenario, record["run_id"], delivered.stored))
    if record.get("complete") is False:
        return f"incomplete: {record.get('incomplete_reason')} (stored)"
    return None


def summary_lines(results):
    lines = []
    for r in results:
        for scenario, run_id, stored in r.stored:
            lines.append(f"[{r.device_id}] scenario {scenario}: stored {run_id} ({stored})")
        for scenario, reason in r.problems:
            lines.append(f"[{r.device_id}] {'scenario ' + str(scenario) if scenario else 'loop'}: {reason}")
    return lines


# ---------------------------------------------------------------- the APK's reference


REFERENCE_INPUT = "abpn_x3_int8.input.bin"
REFERENCE_EXPECTED = "abpn_x3_int8.expected.bin"


def reference_assets(model_path, out_dir, *, cache_dir):
    """Writes the bundled model's reference input and expected output into `out_dir` (the APK's assets)
    by the same step as push-and-bench (abpn.bench.plan.prepare_plan: a real photo through TFLiteRunner)."""
    from abpn.bench.plan import prepare_plan

    plan = prepare_plan(model_path, out_dir=cache_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name in ((plan.input_path, REFERENCE_INPUT), (plan.expected_path, REFERENCE_EXPECTED)):
        target = out_dir / name
        shutil.copyfile(source, target)
        written.append(target)
    return plan.model, written
