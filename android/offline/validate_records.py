#!/usr/bin/env python3
"""Validates the sample records the Kotlin code wrote against the repository's JSON Schema.

  validate_records.py SCHEMA RECORDS_DIR

Needs the `jsonschema` package (the repository's venv has it). The same check runs in
pytest as tests/test_kotlin_record.py.
"""
import json
import pathlib
import sys

import jsonschema


def main():
    schema_path, folder = sys.argv[1:]
    schema = json.loads(pathlib.Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    files = sorted(p for p in pathlib.Path(folder).glob("*.json") if p.name != "error.json")
    if len(files) < 3:
        sys.exit(f"expected the ok, unsupported and failed records in {folder}, found {[p.name for p in files]}")
    failed = False
    for p in files:
        errors = sorted(validator.iter_errors(json.loads(p.read_text())), key=lambda e: list(e.absolute_path))
        for e in errors:
            failed = True
            print(f"{p.name}: {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}")
        if not errors:
            print(f"{p.name}: valid")
    error_file = json.loads((pathlib.Path(folder) / "error.json").read_text())
    if sorted(error_file) != ["error", "run_id"]:
        failed = True
        print(f"error.json: keys {sorted(error_file)}, want error and run_id")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
