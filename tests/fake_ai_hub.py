"""A fake Qualcomm AI Hub on loopback: the REST endpoints the `qai-hub` client (0.56) calls, answered with the
package's own protobuf messages (qai_hub.public_api_pb2), so that the real client runs against it end to end.

    python tests/fake_ai_hub.py --port 8790 [--fail "Samsung Galaxy S24 (Family)/gpu"] [--hang DEVICE/UNIT]

Point the client at it with a QAIHUB_CLIENT_INI file whose [api] section sets api_url and web_url to
http://127.0.0.1:PORT and api_token = test-token. docs/ai-hub.md says how each answer maps to the real service.

What it does as AI Hub does (cited from the installed qai_hub package):
- every /api/v1/ call needs `Authorization: token test-token`; any other token gets 401, which the client turns
  into "Failed to authenticate" (client._raise_if_hub_user_error);
- GET devices/ filters by exact name, os and attributes; with select=true it answers at most one device, the
  one with the latest OS (client.Device's docstring), and none for an unknown name, which the client reports as
  "... is not available" (client.Client._check_devices);
- uploads go to URLs on this server that need no token, as AI Hub's presigned storage URLs: a model in parts
  by PUT, each answered with an ETag (public_rest_api.upload_model), a dataset by a multipart POST
  (api_utils.upload_asset); a model over --max-model-bytes gets 413 with an empty body, for which the client
  shows its own "The uploaded asset is too large" (public_rest_api.APIException);
- a job moves through CREATED, PROVISIONING_DEVICE and MEASURING_PERFORMANCE (client.InferenceJob's states
  for profiling jobs) to DONE, with a ProfileDetail shaped like the one in the package's own test
  (qai_hub/test/test_client.py, test_profile_pb_to_python_dict: version 1.8, times in microseconds, memory
  as ranges, per-layer compute units) and, for a job with inputs, an output dataset in the client's h5 layout.

It really runs the uploaded .tflite on the uploaded input with the TFLite runtime, so the returned output is
the model's. Its timings and memory figures are made up (the host is not a phone); their shape is AI Hub's.
"""
import argparse
import io
import itertools
import json
import re
import shlex
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from google.protobuf import timestamp_pb2

import qai_hub.public_api_pb2 as pb

TOKEN = "test-token"
PROTOBUF = "application/x-protobuf"
# The package's own test profile (qai_hub/test/test_client.py) is version 1.8.
PROFILE_VERSION = (1, 8)
PROFILER_ITERATIONS = 100  # the client's docs: max_profiler_iterations defaults to 100
COMPUTE_UNITS = {"cpu": pb.COMPUTE_UNIT_CPU, "gpu": pb.COMPUTE_UNIT_GPU, "npu": pb.COMPUTE_UNIT_NPU}
# Illustrative: which delegate a layer on each unit ran under (the package's test shows XNNPACK and QNN/HTP).
DELEGATES = {pb.COMPUTE_UNIT_CPU: ("XNNPACK", ""), pb.COMPUTE_UNIT_GPU: ("GPUV2", ""),
             pb.COMPUTE_UNIT_NPU: ("QNN", "HTP")}
# Made-up speed of each unit relative to the CPU, and of each device relative to the S23.
UNIT_SPEED = {pb.COMPUTE_UNIT_CPU: 1.0, pb.COMPUTE_UNIT_GPU: 0.4, pb.COMPUTE_UNIT_NPU: 0.1}
DEFAULT_FAILURE = ("Failed to profile the model: the TFLite GPU delegate refused the graph (Next operations are "
                   "not supported by GPU delegate). Try --compute_unit cpu.")


def _device(name, os_version, vendor, chipset_aliases, hexagon, speed, form="phone", os_name="android"):
    # Attributes as AI Hub lists them: a chipset by its marketing slug and its part number (the aliases of
    # quic/ai-hub-models' scorecard/website/devices_and_chipsets.yaml), the vendor, the frameworks.
    attributes = [f"chipset:{alias}" for alias in chipset_aliases] + [
        f"format:{form}", "framework:onnx", "framework:qnn", "framework:tflite", f"hexagon:{hexagon}",
        f"os:{os_name}", f"vendor:{vendor}"]
    if os_name == "android":
        attributes.append("abi:aarch64-android")
    return {"device": pb.Device(name=name, os=os_version, attributes=sorted(attributes)), "speed": speed}


DEVICES = [
    _device("Samsung Galaxy S23", "13", "samsung", ["qualcomm-snapdragon-8gen2", "sm8550"], "v73", 1.0),
    _device("Samsung Galaxy S23 (Family)", "14", "samsung", ["qualcomm-snapdragon-8gen2", "sm8550"], "v73", 1.0),
    _device("Samsung Galaxy S24", "14", "samsung", ["qualcomm-snapdragon-8gen3", "sm8650"], "v75", 0.8),
    _device("Samsung Galaxy S24 (Family)", "14", "samsung", ["qualcomm-snapdragon-8gen3", "sm8650"], "v75", 0.8),
    _device("Samsung Galaxy S25 (Family)", "15", "samsung", ["qualcomm-snapdragon-8-elite", "sm8750"], "v79", 0.6),
    _device("Snapdragon 8 Elite QRD", "15", "qualcomm", ["qualcomm-snapdragon-8-elite", "sm8750"], "v79", 0.6),
    _device("Google Pixel 4", "12", "google", ["qualcomm-snapdragon-855", "sm8150"], "v66", 2.5),
    _device("Snapdragon X Elite CRD", "11", "microsoft", ["qualcomm-snapdragon-x-elite", "sc8380xp"], "v73", 0.7,
            form="compute", os_name="windows"),
]


def _now():
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _os_key(version):
    return tuple(int(part) for part in re.findall(r"\d+", version))


class FakeAIHub:
    """The fake's state: what was uploaded and which jobs exist. `fail` and `hang` are "DEVICE/UNIT" strings."""

    def __init__(self, *, fail=(), hang=(), failure_reason=DEFAULT_FAILURE, max_model_bytes=100 * 2**20,
                 state_seconds=0.2, cpu_layers_on_gpu=()):
        self.fail, self.hang = set(fail), set(hang)
        self.failure_reason = failure_reason
        self.max_model_bytes = max_model_bytes
        self.state_seconds = state_seconds
        self.cpu_layers_on_gpu = set(cpu_layers_on_gpu)  # layer types the GPU leaves to the CPU
        self.models, self.datasets, self.jobs, self.blobs = {}, {}, {}, {}
        self.requests = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._interpreters = {}

    def new_id(self, prefix):
        return f"{prefix}{next(self._ids):08x}"

    # ---------------------------------------------------------------- devices

    def devices(self, name="", os_version="", attributes=(), select=False):
        found = [entry for entry in DEVICES
                 if (not name or entry["device"].name == name)
                 and (not os_version or entry["device"].os == os_version)
                 and all(attr in entry["device"].attributes for attr in attributes)]
        if select and found:
            found = [max(found, key=lambda entry: _os_key(entry["device"].os))]
        return found

    # ---------------------------------------------------------------- jobs

    def create_job(self, job_pb):
        inference = job_pb.inference_job
        if not job_pb.HasField("inference_job"):
            return 400, {"detail": "This fake AI Hub runs inference jobs only."}
        matches = self.devices(inference.device.name, inference.device.os, list(inference.device.attributes))
        if not matches:
            return 404, {"detail": "Unable to find a target device matching the specified constraints."}
        unit = self._compute_unit(inference.options)
        if unit is None:
            return 400, {"detail": f"Invalid options: {inference.options!r}. --compute_unit takes all, npu, gpu "
                                   "or cpu."}
        if inference.model.model_id not in self.models:
            return 404, {"detail": "Model not found."}
        job_id = self.new_id("j")
        inference.inference_job_id = job_id
        inference.creation_time.CopyFrom(_now())
        inference.job_state = pb.JOB_STATE_CREATED
        device = matches[0]
        inference.device.CopyFrom(device["device"])
        self.jobs[job_id] = {"pb": pb.Job(inference_job=inference, hub_version="fake-0.56"),
                             "created": time.monotonic(), "unit": unit, "speed": device["speed"], "result": None}
        return 201, pb.CreateUpdateResponse(id=job_id, creation_time=inference.creation_time)

    @staticmethod
    def _compute_unit(options):
        words = shlex.split(options or "")
        if not words:
            return pb.COMPUTE_UNIT_NPU  # AI Hub's default targets the NPU first
        if len(words) != 2 or words[0] != "--compute_unit":
            return None
        units = [u.strip() for u in words[1].split(",")]
        if "all" in units:
            return pb.COMPUTE_UNIT_NPU
        if not units or any(u not in COMPUTE_UNITS for u in units):
            return None
        return min((COMPUTE_UNITS[u] for u in units), key=lambda unit: UNIT_SPEED[unit])

    def job(self, job_id):
        """The job, moved on by the time since it was created (each state lasts state_seconds)."""
        job = self.jobs.get(job_id)
        if job is None:
            return None
        inference = job["pb"].inference_job
        if inference.job_state in (pb.JOB_STATE_DONE, pb.JOB_STATE_FAILED):
            return job
        key = f"{inference.device.name}/{_unit_name(job['unit'])}"
        steps = int((time.monotonic() - job["created"]) / self.state_seconds) if self.state_seconds else 3
        states = [pb.JOB_STATE_CREATED, pb.JOB_STATE_PROVISIONING_DEVICE, pb.JOB_STATE_MEASURING_PERFORMANCE]
        if steps < len(states) or key in self.hang:
            inference.job_state = states[min(steps, len(states) - 1)]
            return job
        if key in self.fail:
            inference.job_state = pb.JOB_STATE_FAILED
            inference.failure_reason = self.failure_reason
            job["pb"].failure_type = pb.JOB_FAILURE_TYPE_UNSUPPORTED
        else:
            self._run(job)
        inference.completion_time.CopyFrom(_now())
        return job

    def _run(self, job):
        inference = job["pb"].inference_job
        interpreter, layers = self._interpreter(inference.model.model_id)
        result = pb.InferenceJobResult(inference_job_id=inference.inference_job_id)
        if inference.dataset.dataset_id:
            entries = self.datasets[inference.dataset.dataset_id]["entries"]
            detail = interpreter.get_input_details()[0]
            tensor = next(iter(entries.values()))[0]
            if tuple(tensor.shape) != tuple(detail["shape"]) or tensor.dtype != detail["dtype"]:
                inference.job_state = pb.JOB_STATE_FAILED
                inference.failure_reason = (
                    f"Invalid inputs: the model takes {list(detail['shape'])} {np.dtype(detail['dtype']).name}, "
                    f"got {list(tensor.shape)} {tensor.dtype}.")
                job["pb"].failure_type = pb.JOB_FAILURE_TYPE_INVALID_INPUTS
                return
            interpreter.set_tensor(detail["index"], tensor)
            interpreter.invoke()
            output_detail = interpreter.get_output_details()[0]
            output = interpreter.get_tensor(output_detail["index"]).copy()
            output_id = self.new_id("d")
            self._store_dataset(output_id, f"{inference.inference_job_id}_output", {output_detail["name"]: [output]})
            result.output_dataset_id = output_id
        if inference.is_profiling_on:
            result.detail.CopyFrom(self._profile(job, layers, interpreter))
        job["result"] = pb.JobResult(inference_job_result=result)
        inference.job_state = pb.JOB_STATE_DONE

    def _interpreter(self, model_id):
        if model_id not in self._interpreters:
            import tensorflow as tf

            content = self.models[model_id]["content"]
            interpreter = tf.lite.Interpreter(model_content=content)
            interpreter.allocate_tensors()
            names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
            plain = tf.lite.Interpreter(
                model_content=content,
                experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            plain.allocate_tensors()
            layers = [(names.get(op["outputs"][0], f"op{op['index']}"), op["op_name"])
                      for op in plain._get_ops_details()]
            self._interpreters[model_id] = (interpreter, layers)
        return self._interpreters[model_id]

    def _profile(self, job, layers, interpreter):
        unit, speed = job["unit"], job["speed"]
        pixels = int(np.prod(interpreter.get_input_details()[0]["shape"][1:3]))
        # Made up: 0.05 us per input pixel on the S23's CPU, scaled by unit and device.
        base_us = max(50.0, pixels * 0.05 * UNIT_SPEED[unit] * speed)
        rng = np.random.default_rng(int(job["pb"].inference_job.inference_job_id[1:], 16))
        times = [int(base_us * (1.0 + 0.05 * abs(x))) for x in rng.standard_normal(PROFILER_ITERATIONS)]
        detail = pb.ProfileDetail(major_version=PROFILE_VERSION[0], minor_version=PROFILE_VERSION[1])
        detail.execution_time = int(np.median(times))
        detail.cold_load_time = int(base_us * 40 + (300_000 if unit == pb.COMPUTE_UNIT_NPU else 20_000))
        detail.warm_load_time = int(detail.cold_load_time * 0.2)
        detail.all_execution_times.extend(times)
        detail.all_cold_load_times.append(detail.cold_load_time)
        detail.all_warm_load_times.append(detail.warm_load_time)
        detail.all_compile_times.append(0)
        # Ranges shaped as in the package's test profile.
        for stage, (low, high) in {"cold_load_memory": (98_230_272, 108_003_248),
                                   "warm_load_memory": (118_784, 43_225_712),
                                   "execution_memory": (2_654_208, 39_406_752)}.items():
            getattr(detail, stage).peak.lower, getattr(detail, stage).peak.upper = low, high
            getattr(detail, stage).increase.lower, getattr(detail, stage).increase.upper = 0, high - low
        detail.after_execution_peak_memory = detail.execution_memory.peak.upper
        detail.after_cold_load_peak_memory = detail.cold_load_memory.peak.upper
        detail.after_warm_load_peak_memory = detail.warm_load_memory.peak.upper
        per_layer = max(1, detail.execution_time // max(1, len(layers)))
        for index, (name, op_type) in enumerate(layers):
            layer_unit = unit
            if unit == pb.COMPUTE_UNIT_GPU and op_type in self.cpu_layers_on_gpu:
                layer_unit = pb.COMPUTE_UNIT_CPU
            delegate, extra = DELEGATES[layer_unit]
            detail.layer_details.append(pb.LayerDetail(
                name=name, compute_unit=layer_unit, layer_type_name=op_type, id=f":0:{index}",
                delegate_name=delegate, delegate_extra_info=extra, execution_time=per_layer,
                segment_id=f":0:{1000 + layer_unit}"))
        return detail

    # ---------------------------------------------------------------- datasets

    def _store_dataset(self, dataset_id, name, entries):
        import h5py
        from qai_hub.util.dataset_entries_converters import dataset_entries_to_h5

        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5f:
            dataset_entries_to_h5(entries, h5f)
        self.blobs[f"dataset/{dataset_id}"] = buffer.getvalue()
        self.datasets[dataset_id] = {"pb": pb.Dataset(dataset_id=dataset_id, name=name, creation_time=_now(),
                                                      file_upload_complete=True), "entries": entries}

    def load_dataset(self, dataset_id):
        import h5py
        from qai_hub.util.dataset_entries_converters import h5_to_dataset_entries

        with h5py.File(io.BytesIO(self.blobs[f"dataset/{dataset_id}"]), "r") as h5f:
            self.datasets[dataset_id]["entries"] = h5_to_dataset_entries(h5f)
        self.datasets[dataset_id]["pb"].file_upload_complete = True


def _unit_name(unit):
    return {pb.COMPUTE_UNIT_CPU: "cpu", pb.COMPUTE_UNIT_GPU: "gpu", pb.COMPUTE_UNIT_NPU: "npu"}[unit]


class Handler(BaseHTTPRequestHandler):
    hub: FakeAIHub  # set on the server's handler class
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # -- answers

    def _send(self, status, body=b"", content_type=PROTOBUF, headers=None):
        if hasattr(body, "SerializeToString"):
            body = body.SerializeToString()
        elif isinstance(body, dict):
            body, content_type = json.dumps(body).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if not size:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return b""

    # -- routing

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        body = self._body()
        hub = self.hub
        with hub.lock:
            hub.requests.append({"method": method, "path": url.path})
            if url.path == "/_fake/requests":
                return self._send(200, {"requests": hub.requests})
            if url.path.startswith("/_storage/"):
                return self._storage(method, url.path[len("/_storage/"):], body)
            if not url.path.startswith("/api/v1/"):
                return self._send(404, {"detail": "Not found."})
            # Django REST framework's TokenAuthentication, as AI Hub's API: "Authorization: token <key>".
            if self.headers.get("Authorization") != f"token {TOKEN}":
                return self._send(401, {"detail": "Invalid token."})
            parts = [p for p in url.path[len("/api/v1/"):].split("/") if p]
            return self._api(method, parts, query, body)

    def _api(self, method, parts, query, body):
        hub = self.hub
        base = f"http://{self.headers.get('Host')}"
        match method, parts:
            case "GET", ["users", "auth", "user"]:
                return self._send(200, pb.User(id=1, email="tester@example.invalid", first_name="Test"))
            case "GET", ["devices"]:
                found = hub.devices(query.get("name", [""])[0], query.get("os", [""])[0],
                                    query.get("attributes", []), query.get("select", [""])[0].lower() == "true")
                return self._send(200, pb.DeviceList(devices=[e["device"] for e in found],
                                                     total_query_count=len(found)))
            case "POST", ["models"]:
                model = pb.Model.FromString(body)
                model.model_id = hub.new_id("m")
                model.creation_time.CopyFrom(_now())
                hub.models[model.model_id] = {"pb": model, "content": None}
                return self._send(201, pb.CreateUpdateResponse(id=model.model_id, creation_time=model.creation_time))
            case "GET", ["models", model_id, "multipart_upload"] if model_id in hub.models:
                size = int(query.get("file_size", ["0"])[0])
                if size > hub.max_model_bytes:
                    return self._send(413, b"", content_type="text/html")
                upload = pb.FileUploadResponse()
                upload.multipart_url.upload_id = hub.new_id("u")
                upload.multipart_url.max_part_size = max(size, 1)
                upload.multipart_url.urls.append(f"{base}/_storage/model/{model_id}/1")
                return self._send(200, upload)
            case "POST", ["models", model_id, "multipart_upload"] if model_id in hub.models:
                done = pb.FileMultipartUploadComplete.FromString(body)
                if list(done.etags) != [f'"{model_id}-1"']:
                    return self._send(400, {"detail": "The ETags do not match the uploaded parts."})
                hub.models[model_id]["content"] = hub.blobs[f"model/{model_id}/1"]
                hub.models[model_id]["pb"].file_upload_complete = True
                return self._send(200, pb.CreateUpdateResponse(id=model_id))
            case "GET", ["models", model_id] if model_id in hub.models:
                return self._send(200, hub.models[model_id]["pb"])
            case "POST", ["datasets"]:
                dataset = pb.Dataset.FromString(body)
                dataset.dataset_id = hub.new_id("d")
                dataset.creation_time.CopyFrom(_now())
                dataset.expiration_time.FromSeconds(dataset.creation_time.seconds + 30 * 86400)
                hub.datasets[dataset.dataset_id] = {"pb": dataset, "entries": None}
                return self._send(201, pb.CreateUpdateResponse(
                    id=dataset.dataset_id, creation_time=dataset.creation_time,
                    expiration_time=dataset.expiration_time))
            case "GET", ["datasets", dataset_id, "upload_url"] if dataset_id in hub.datasets:
                upload = pb.FileUploadResponse()
                upload.url.url = f"{base}/_storage/dataset/{dataset_id}"
                upload.url.file_field_name = "file"
                upload.url.fields["key"] = f"datasets/{dataset_id}.h5"
                return self._send(200, upload)
            case "PATCH", ["datasets", dataset_id] if dataset_id in hub.datasets:
                if f"dataset/{dataset_id}" not in hub.blobs:
                    return self._send(400, {"detail": "The dataset file was not uploaded."})
                hub.load_dataset(dataset_id)
                return self._send(200, pb.CreateUpdateResponse(id=dataset_id))
            case "GET", ["datasets", dataset_id, "download_data"] if dataset_id in hub.datasets:
                download = pb.FileDownloadResponse()
                download.url.url = f"{base}/_storage/dataset/{dataset_id}"
                download.url.filename = f"{hub.datasets[dataset_id]['pb'].name or dataset_id}.h5"
                return self._send(200, download)
            case "GET", ["datasets", dataset_id] if dataset_id in hub.datasets:
                return self._send(200, hub.datasets[dataset_id]["pb"])
            case "POST", ["jobs"]:
                status, answer = hub.create_job(pb.Job.FromString(body))
                return self._send(status, answer)
            case "GET", ["jobs", job_id] if hub.job(job_id):
                return self._send(200, hub.job(job_id)["pb"])
            case "GET", ["jobs", job_id, "result"] if hub.job(job_id) and hub.job(job_id)["result"]:
                return self._send(200, hub.job(job_id)["result"])
        return self._send(404, {"detail": "Not found."})

    def _storage(self, method, key, body):
        """The presigned-URL side: no token, S3's way of answering."""
        hub = self.hub
        if method == "PUT" and key.startswith("model/"):
            model_id, part = key.split("/")[1:3]
            hub.blobs[key] = body
            return self._send(200, b"", content_type="text/plain", headers={"ETag": f'"{model_id}-{part}"'})
        if method == "POST" and key.startswith("dataset/"):
            from requests_toolbelt.multipart.decoder import MultipartDecoder

            decoded = MultipartDecoder(body, self.headers.get("Content-Type"))
            for part in decoded.parts:
                if b'name="file"' in part.headers.get(b"Content-Disposition", b""):
                    hub.blobs[key] = part.content
            return self._send(204, b"", content_type="text/plain")
        if method == "GET" and key in hub.blobs:
            return self._send(200, hub.blobs[key], content_type="application/octet-stream")
        return self._send(404, b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                               b"</Message></Error>", content_type="application/xml")


def make_server(hub, port=0, host="127.0.0.1"):
    handler = type("BoundHandler", (Handler,), {"hub": hub})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def write_client_ini(path, url, token=TOKEN):
    """A QAIHUB_CLIENT_INI file pointing the real client at `url` (the keys load_api_config_from_file reads)."""
    path.write_text(f"[api]\napi_token = {token}\napi_url = {url}\nweb_url = {url}\nverbose = False\n")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail", action="append", default=[], metavar="DEVICE/UNIT",
                        help="fail this job on purpose, e.g. 'Samsung Galaxy S24 (Family)/gpu'")
    parser.add_argument("--hang", action="append", default=[], metavar="DEVICE/UNIT",
                        help="leave this job measuring for ever")
    parser.add_argument("--max-model-bytes", type=int, default=100 * 2**20)
    parser.add_argument("--state-seconds", type=float, default=0.2, help="how long each job state lasts")
    args = parser.parse_args()
    hub = FakeAIHub(fail=args.fail, hang=args.hang, max_model_bytes=args.max_model_bytes,
                    state_seconds=args.state_seconds)
    server = make_server(hub, args.port)
    print(f"fake AI Hub on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
