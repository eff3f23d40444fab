"""hub-bench: benchmark one model on Qualcomm AI Hub's phones and keep one result record per phone.

Everything that can be refused is checked before anything is uploaded: the model, the client and its token,
the network, the device names. Then the model and the reference input (the real photo push-and-bench uses)
are uploaded once, one inference job with profiling is submitted per phone and accelerator, with the compute
unit pinned in the job's options, and the jobs are followed until they end or --timeout passes. Each phone's
record goes the way every benchmark's does (bench/delivery.py): saved raw under OUT, validated, stored. A job
that fails, or is still running at the timeout, costs its own row only.

The `qai-hub` client (the `hub` extra) does the talking; docs/ai-hub.md says how its calls map to the service.
"""
import difflib
import json
import re
import socket
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from abpn.bench.console import Console, results_table
from abpn.bench.delivery import Outcome, deliver
from abpn.bench.hub_record import (COMPUTE_UNITS, app_section, attribute_values, device_section, failed_row, ok_row,
                                   source_section)
from abpn.core.table import format_table
from abpn.errors import AbpnError
from abpn.record.build import new_run_id, schema_version, utc_now

DEFAULT_ACCELERATORS = "cpu,gpu,qnn_htp"
DEFAULT_TIMEOUT_S = 1800.0
CONFIGURE_HINT = "qai-hub configure --api_token YOUR_TOKEN"
FIRST_POLL_S, MAX_POLL_S = 1.0, 10.0
PROGRESS_EVERY_S = 30.0
CONNECT_TIMEOUT_S = 10.0


@dataclass
class HubJob:
    target: "Target"
    accelerator: str
    job: object = None  # qai_hub.InferenceJob once submitted
    state: str = "NOT_SUBMITTED"
    message: str | None = None

    @property
    def finished(self):
        return self.state in ("SUCCESS", "FAILED", "NOT_SUBMITTED")


@dataclass
class Target:
    spec: str  # what the user gave: a device name or a chipset: attribute
    name: str  # the AI Hub device it resolved to
    device: object  # the qai_hub.Device to submit to
    jobs: list = field(default_factory=list)


def parse_hub_accelerators(text):
    names = list(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    unknown = [a for a in names if a not in COMPUTE_UNITS]
    if unknown or not names:
        raise AbpnError(f"AI Hub cannot run {', '.join(unknown) or '(no accelerator given)'}: choose from "
                        f"{', '.join(COMPUTE_UNITS)} (qnn_htp is AI Hub's NPU, through the QNN delegate)")
    return names


# ---------------------------------------------------------------- the client


def _qai_hub():
    try:
        import qai_hub
    except ImportError as error:
        raise AbpnError("the Qualcomm AI Hub client is not installed: pip install 'abpn-tool[hub]', then "
                        f"`{CONFIGURE_HINT}` once") from error
    return qai_hub


def hub_message(error):
    """The client's message without the box it draws around it (client._visible_textbox), on one line."""
    text = re.sub(r"[┌┐└┘─]+", " ", str(error))
    text = re.sub(r"(?m)^\|\s?|\s?\|$", "", text)
    return re.sub(r"\s+", " ", text).strip()


def connect():
    """A client with its configuration loaded, or a clear error naming the command that configures it."""
    qai_hub = _qai_hub()
    client = qai_hub.Client()
    try:
        config = client.config
    except qai_hub.client.Error as error:
        raise AbpnError(f"no Qualcomm AI Hub token is configured ({hub_message(error)}). Run `{CONFIGURE_HINT}` "
                        "once with the token from your AI Hub account page (it writes ~/.qai_hub/client.ini, or "
                        "the file $QAIHUB_CLIENT_INI names). Nothing was uploaded.") from error
    _check_reachable(config.api_url)
    return client


def _check_reachable(api_url):
    """One TCP connection before the first request: the client retries a dead network for about a minute
    (util/session.py) before it says anything. Behind a proxy (requests honours *_PROXY), the proxy is
    what must answer."""
    url = urllib.parse.urlsplit(api_url)
    proxy = None if urllib.request.proxy_bypass(url.hostname or "") else urllib.request.getproxies().get(url.scheme)
    where = urllib.parse.urlsplit(proxy if "://" in (proxy or "") else f"http://{proxy}") if proxy else url
    port = where.port or (443 if where.scheme == "https" else 80)
    try:
        with socket.create_connection((where.hostname, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        via = f" through the proxy {proxy}" if proxy else ""
        raise AbpnError(f"cannot reach Qualcomm AI Hub at {api_url}{via} ({error.strerror or error}). Check "
                        "this computer's network connection (and proxy), then run again. Nothing was uploaded and "
                        "no record was written.") from error


def _call(what, function, *args, after="", **kwargs):
    """A client call whose failure becomes an AbpnError saying what was being done, in AI Hub's words,
    then `after`."""
    qai_hub = _qai_hub()
    try:
        return function(*args, **kwargs)
    except qai_hub.client.Error as error:
        raise AbpnError(f"AI Hub: {what} failed: {hub_message(error)}{after}") from error


def android_devices(client):
    """The Android devices AI Hub offers, as (name, Android version, chipset name, AI Hub's chipset
    attributes), sorted by name."""
    devices = _call("listing the devices", client.get_devices)
    return sorted(((d.name, d.os, device_section(d.name, d.os, list(d.attributes))["chipset_name"] or "-",
                    ", ".join(f"chipset:{c}" for c in attribute_values(d.attributes, "chipset")))
                   for d in devices if "os:android" in d.attributes), key=lambda row: (row[0].lower(), row[1]))


def list_devices_table(client):
    rows = android_devices(client)
    return format_table(["device", "android", "chipset", "AI Hub chipset attributes"], rows) + (
        f"\n\n{len(rows)} Android devices. Benchmark one with --hub-device \"NAME\", or by chipset, e.g. "
        "--hub-device chipset:sm8650.")


def resolve_targets(client, specs):
    """Each --hub-device as an AI Hub device, before anything is uploaded; an unknown one gets the closest
    names AI Hub offers."""
    qai_hub = _qai_hub()
    devices = _call("checking the token and listing the devices", client.get_devices,
                    after=f" Nothing was uploaded or stored. A new token is set with `{CONFIGURE_HINT}`.")
    targets = {}
    for spec in specs:
        spec = spec.strip()
        if spec.startswith("chipset:"):
            matches = [d for d in devices if spec in d.attributes]
            device = qai_hub.Device(attributes=[spec])
            known = sorted({a for d in devices for a in d.attributes if a.startswith("chipset:")})
        else:
            matches = [d for d in devices if d.name == spec]
            device = qai_hub.Device(name=spec)
            known = sorted({d.name for d in devices})
        if not matches:
            close = difflib.get_close_matches(spec, known, n=5, cutoff=0.5) or known[:5]
            raise AbpnError(f"AI Hub has no device {spec!r}. Closest it offers: "
                            f"{'; '.join(repr(c) for c in close)}. `abpn-tool hub-bench --list-devices` lists them "
                            "all. Nothing was uploaded.")
        phones = [d for d in matches if "os:android" in d.attributes and "framework:tflite" in d.attributes]
        if not phones:
            raise AbpnError(f"{spec!r} is not an Android device that runs TFLite on AI Hub "
                            f"({', '.join(matches[0].attributes)}); pick one from `abpn-tool hub-bench --list-devices`")
        name = phones[0].name if len({d.name for d in phones}) == 1 else spec
        targets.setdefault(spec, Target(spec=spec, name=name, device=device))
    return list(targets.values())


# ---------------------------------------------------------------- the run


class HubBench:
    def __init__(self, client, plan, targets, accelerators, sink, *, timeout_s, console=None, poll_s=MAX_POLL_S):
        self.client, self.plan, self.targets = client, plan, targets
        self.accelerators, self.sink, self.timeout_s = accelerators, sink, timeout_s
        self.console = console or Console()
        self.poll_s = poll_s
        self.raw_dir = Path(plan.out_dir) / "ai-hub"

    def say(self, target, message):
        self.console.say(target, message)

    def run(self):
        model = self.plan.model
        self.console.block(f"model {model.file_name}: {model.input_shape} {model.input_dtype} -> "
                           f"{model.output_shape} {model.output_dtype}, sha256 {model.sha256[:12]}…; "
                           f"{len(self.targets)} AI Hub device(s), {', '.join(self.accelerators)}")
        hub_model, dataset = self._upload()
        self._submit(hub_model, dataset)
        self._wait()
        return [self._record(target) for target in self.targets]

    def _upload(self):
        plan = self.plan
        self.console.block(f"uploading {plan.model.file_name} and the reference input (once for every job)")
        hub_model = _call(f"uploading {plan.model.file_name}", self.client.upload_model, str(plan.model.path))
        tensor = np.fromfile(plan.input_path, dtype=plan.model.input_dtype).reshape(plan.model.input_shape)
        dataset = _call("uploading the reference input", self.client.upload_dataset,
                        {plan.input_name: [tensor]}, name=f"{plan.model.sha256[:12]}-reference-input")
        return hub_model, dataset

    def _submit(self, hub_model, dataset):
        qai_hub = _qai_hub()
        for target in self.targets:
            for accelerator in self.accelerators:
                entry = HubJob(target, accelerator)
                target.jobs.append(entry)
                try:
                    entry.job = self.client.submit_inference_job(
                        hub_model, device=target.device, inputs=dataset, profile=True,
                        name=f"abpn {self.plan.model.file_name} {accelerator}",
                        options=f"--compute_unit {COMPUTE_UNITS[accelerator]}")
                except qai_hub.client.InternalError as error:
                    self._lost_contact(error)
                except qai_hub.client.Error as error:
                    entry.message = f"AI Hub refused the job: {hub_message(error)}"
                    self.say(target.name, f"{accelerator}: {entry.message}")
                    continue
                entry.state = "SUBMITTED"
                target.name = entry.job.device.name or target.name
                self.say(target.name, f"{accelerator}: job {entry.job.job_id} submitted, {entry.job.url}")

    def _wait(self):
        qai_hub = _qai_hub()
        pending = [j for t in self.targets for j in t.jobs if not j.finished]
        start = time.monotonic()
        deadline = start + self.timeout_s
        pause, next_report = min(FIRST_POLL_S, self.poll_s), start + PROGRESS_EVERY_S
        while pending:
            for entry in pending:
                try:
                    status = entry.job.get_status()
                except qai_hub.client.InternalError as error:
                    self._lost_contact(error)
                except qai_hub.client.Error as error:
                    raise AbpnError(f"AI Hub: reading job {entry.job.job_id} failed: {hub_message(error)}") from error
                if status.code != entry.state:
                    entry.state, entry.message = status.code, status.message or None
                    detail = f": {entry.message}" if status.failure and entry.message else ""
                    self.say(entry.target.name, f"{entry.accelerator}: {status.code.lower()}{detail}")
            pending = [j for j in pending if not j.finished]
            now = time.monotonic()
            if not pending or now >= deadline:
                break
            if now >= next_report:
                states = ", ".join(f"{j.target.name} {j.accelerator} {j.state.lower()}" for j in pending)
                self.console.block(f"waiting for {len(pending)} job(s), {now - start:.0f} s of "
                                   f"{self.timeout_s:g} s: {states}")
                next_report = now + PROGRESS_EVERY_S
            time.sleep(min(pause, max(0.0, deadline - now)))
            pause = min(pause * 2, self.poll_s)

    def _lost_contact(self, error):
        submitted = [f"{j.target.name} {j.accelerator}: {j.job.url}" for t in self.targets for j in t.jobs if j.job]
        shown = "".join(f"\n    {line}" for line in submitted) or " none"
        raise AbpnError(f"lost contact with Qualcomm AI Hub ({hub_message(error)}). No record was written. Jobs "
                        f"already submitted run on, and can be seen at:{shown}") from error

    def _record(self, target):
        outcome = Outcome(target.name)
        try:
            record = self._build_record(target)
            outcome.chipset = record["device"]["chipset_name"]
            content = json.dumps(record, indent=1).encode()
            delivered = deliver(content, out_dir=self.plan.out_dir, run_id=record["run_id"], sink=self.sink,
                                label=target.name)
            outcome.saved_to, outcome.record, outcome.stored = delivered
            self.say(target.name, f"result saved as {delivered.saved_to}, stored in {self.sink.where} "
                                  f"({delivered.stored})")
            self.console.block(f"[{target.name}] results (AI Hub's runner, not this app):\n"
                               f"{results_table(delivered.record)}")
        except AbpnError as error:
            outcome.error = str(error)
            self.say(target.name, f"FAILED: {error}")
        return outcome

    def _build_record(self, target):
        expected = np.fromfile(self.plan.expected_path, dtype=self.plan.model.output_dtype).reshape(
            self.plan.model.output_shape)
        rows, jobs, late = [], [], []
        submitted = next((j.job for j in target.jobs if j.job), None)
        for entry in target.jobs:
            job = {"accelerator": entry.accelerator, "job_id": entry.job.job_id if entry.job else "not submitted",
                   "url": entry.job.url if entry.job else None, "state": entry.state}
            if entry.job:
                jobs.append(job)
            if entry.state == "SUCCESS":
                profile, output = self._results(entry)
                rows.append(ok_row(entry.accelerator, job, profile, output, expected))
            elif entry.state == "FAILED":
                rows.append(failed_row(entry.accelerator, job, f"AI Hub: {entry.message or 'the job failed'}"))
            elif entry.job is None:
                rows.append(failed_row(entry.accelerator, job, entry.message or "not submitted"))
            else:
                late.append(entry.accelerator)
                rows.append(failed_row(entry.accelerator, job, (
                    f"still {entry.state} on AI Hub after --timeout {self.timeout_s:g} s; the job runs on: see "
                    f"it, and collect its numbers later, at {job['url']}")))
        device = submitted.device if submitted else target.device
        record = {
            "schema_version": schema_version(),
            "run_id": new_run_id(),
            "created_at": utc_now(),
            "device": device_section(device.name or target.name, device.os, list(device.attributes)),
            "model": self.plan.model.record_section(),
            "app": app_section(self._hub_version(submitted)),
            "results": rows,
            "conditions": {},
            "source": source_section(jobs),
        }
        if late:
            record["complete"] = False
            record["incomplete_reason"] = (f"timed out waiting for AI Hub ({', '.join(late)}) after "
                                           f"{self.timeout_s:g} s")
        return record

    def _hub_version(self, job):
        """AI Hub's version as the job reports it (`get_job` reads it; a submitted job object lacks it)."""
        qai_hub = _qai_hub()
        if job is None:
            return None
        try:
            return self.client.get_job(job.job_id).hub_version or None
        except qai_hub.client.Error:
            return None

    def _results(self, entry):
        """The job's profile and output, each kept raw under OUT/ai-hub/JOB_ID before it goes into a record."""
        job = entry.job
        qai_hub = _qai_hub()
        try:
            profile = job.download_profile()
            outputs = job.download_output_data()
        except qai_hub.client.InternalError as error:
            self._lost_contact(error)
        except qai_hub.client.Error as error:
            raise AbpnError(f"AI Hub: reading the results of job {job.job_id} failed: {hub_message(error)}") from error
        folder = self.raw_dir / job.job_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "profile.json").write_text(json.dumps(profile, indent=1))
        output = None
        if outputs:
            output = np.asarray(next(iter(outputs.values()))[0])
            np.save(folder / "output.npy", output)
        return profile, output


@dataclass
class HubPlan:
    """push-and-bench's plan (model, reference input and expected output) plus the model's input name,
    which names the uploaded dataset's one entry (AI Hub matches a dataset to the model's inputs)."""

    model: object
    input_path: Path
    expected_path: Path
    input_name: str
    out_dir: Path


def prepare_hub_plan(model_path, *, out_dir, timeout_s):
    from abpn.bench.plan import prepare_plan
    from abpn.model.modelfile import TFLiteRunner

    if not timeout_s > 0:
        raise AbpnError(f"--timeout must be a positive number of seconds, got {timeout_s:g}")
    plan = prepare_plan(model_path, accelerators="cpu", out_dir=out_dir, result_timeout_s=timeout_s)
    input_name = TFLiteRunner(model_path).interpreter.get_input_details()[0]["name"]
    return HubPlan(model=plan.model, input_path=plan.input_path, expected_path=plan.expected_path,
                   input_name=input_name, out_dir=plan.out_dir)


def hub_bench(model_path, device_specs, sink, *, accelerators=DEFAULT_ACCELERATORS, out_dir="abpn-results",
              timeout_s=DEFAULT_TIMEOUT_S, poll_s=MAX_POLL_S, console=None):
    """Benchmarks `model_path` on each AI Hub device in `device_specs`; returns one Outcome per device.
    Raises AbpnError, before anything is uploaded, for what can be refused up front."""
    accelerators = parse_hub_accelerators(accelerators)
    if not device_specs:
        raise AbpnError("no AI Hub device given: pass --hub-device \"NAME\" (see `abpn-tool hub-bench --list-devices`)")
    # The token, the devices and the results' destination first: none of them needs the reference run or
    # writes anything, so a wrong one leaves --out untouched.
    client = connect()
    targets = resolve_targets(client, device_specs)
    sink.check()
    plan = prepare_hub_plan(model_path, out_dir=out_dir, timeout_s=timeout_s)
    console = console or Console()
    outcomes = HubBench(client, plan, targets, accelerators, sink, timeout_s=timeout_s, console=console,
                        poll_s=poll_s).run()
    rows = [[o.target, o.chipset or "-", "ok" if o.ok else "failed", (o.error or "").splitlines()[0][:120] if o.error
             else ""] for o in outcomes]
    console.block("\nsummary (AI Hub):\n" + format_table(["device", "chipset", "status", "error"], rows))
    return outcomes
