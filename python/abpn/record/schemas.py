"""Every version of the result-record contract the collector knows, read from the JSON Schema files.

python/abpn/record/schema/ holds one file per version: `result_record.schema.json` is the current contract
and `result_record.v<N>.schema.json` are frozen earlier ones. A record is validated against the
schema of its own `schema_version`, so phones running an older app keep being accepted after the
contract moves on. A new version needs no code: its file, dropped next to the others, is found by
the `const` of its `schema_version`.

The same files give the OpenAPI document its request and response models: there is no second,
hand-kept copy of the contract to drift from it.
"""
import copy
import functools
import json
from pathlib import Path

from abpn.errors import AbpnError

SCHEMA_DIR = Path(__file__).parent / "schema"
SCHEMA_GLOB = "result_record*.schema.json"
CURRENT_SCHEMA = "result_record.schema.json"


class Schemas:
    """The record schemas found in `directory`, by version."""

    def __init__(self, directory=SCHEMA_DIR):
        import jsonschema

        self.directory = Path(directory)
        found = {}
        for path in sorted(self.directory.glob(SCHEMA_GLOB)):
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
                version = schema["properties"]["schema_version"]["const"]
                jsonschema.Draft202012Validator.check_schema(schema)
            except (ValueError, KeyError, TypeError, jsonschema.SchemaError) as error:
                raise AbpnError(f"{path} is not a result-record schema with a constant schema_version "
                                f"({error.__class__.__name__}: {error})") from error
            if not isinstance(version, int) or isinstance(version, bool):
                raise AbpnError(f"{path}: schema_version must be a constant integer, got {version!r}")
            # The current file and its frozen copy carry the same version until the contract moves on.
            if version in found and found[version][1] != schema:
                raise AbpnError(f"{found[version][0]} and {path} both define schema_version {version} "
                                "differently; freeze the old one under its own version")
            found.setdefault(version, (path, schema))
        if not found:
            raise AbpnError(f"no result-record schema ({SCHEMA_GLOB}) in {self.directory}")
        self._schemas = {version: schema for version, (_, schema) in found.items()}
        current = [version for version, (path, _) in found.items() if path.name == CURRENT_SCHEMA]
        self.current_version = current[0] if current else max(self._schemas)
        self._validators = {}

    def _validator(self, version):
        # jsonschema-rs: the pure-Python validator takes 20 s over a record of 100,000 samples (under the
        # body limit), a request any client could repeat; this one takes 30 ms.
        if version not in self._validators:
            import jsonschema_rs

            self._validators[version] = jsonschema_rs.Draft202012Validator(self._schemas[version])
        return self._validators[version]

    @property
    def versions(self):
        return sorted(self._schemas)

    def accelerators(self):
        """Every accelerator name some known version allows, in the order the schemas list them."""
        names = {}
        for version in self.versions:
            for name in self._schemas[version]["$defs"]["result"]["properties"]["accelerator"]["enum"]:
                names.setdefault(name)
        return tuple(names)

    def current_accelerators(self):
        """The accelerator names the current version allows, in its order."""
        return tuple(self._schemas[self.current_version]["$defs"]["result"]["properties"]["accelerator"]["enum"])

    def schema(self, version):
        return self._schemas[version]

    def errors(self, record):
        """Every way `record` breaks the schema of its schema_version, as 'path: message' strings."""
        if not isinstance(record, dict):
            return [f"(record): expected a JSON object, got {type(record).__name__}"]
        version = record.get("schema_version")
        if type(version) is not int or version not in self._schemas:
            known = ", ".join(str(v) for v in self.versions)
            return [f"schema_version: {version!r} is not a version this collector knows ({known}); "
                    "upgrade the collector or send a known version"]
        found = sorted(self._validator(version).iter_errors(record), key=lambda e: [str(p) for p in e.instance_path])
        return [f"{'/'.join(str(p) for p in e.instance_path) or '(record)'}: {e.message}" for e in found]

    def openapi_components(self, name="ResultRecord"):
        """OpenAPI 3.1 schemas: `{name}V<N>` per version (its $defs as `{name}V<N>_<def>`) and `name`
        as one of them."""
        components = {}
        for version in self.versions:
            prefix = f"{name}V{version}"
            schema = copy.deepcopy(self._schemas[version])
            for key in ("$schema", "$id"):
                schema.pop(key, None)
            definitions = schema.pop("$defs", {})
            rewrite = functools.partial(_rewrite_refs, prefix=prefix)
            components[prefix] = rewrite(schema)
            for def_name, definition in definitions.items():
                components[f"{prefix}_{def_name}"] = rewrite(definition)
        components[name] = {"description": "A result record of any schema_version this collector knows",
                            "oneOf": [{"$ref": f"#/components/schemas/{name}V{v}"} for v in self.versions]}
        return components


def _rewrite_refs(node, prefix):
    if isinstance(node, dict):
        return {key: (f"#/components/schemas/{prefix}_{value.removeprefix('#/$defs/')}"
                      if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/")
                      else _rewrite_refs(value, prefix))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(value, prefix) for value in node]
    return node


@functools.lru_cache(maxsize=None)
def default_schemas():
    return Schemas()
