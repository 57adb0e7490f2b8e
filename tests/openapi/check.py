"""Hold real answers against Steward's OpenAPI document.

    python3 tests/openapi/check.py openapi.json < samples.json

samples.json is a list of {"path", "method", "status", "body"} taken from a
running server. Each body is validated (JSON Schema 2020-12, the dialect of
OpenAPI 3.1) against the schema the document gives for that path, method
and status; an answer whose status is not documented fails too. Prints the
failures as a JSON list and exits 1 if there are any.
"""

import json
import sys

import jsonschema

spec = json.load(open(sys.argv[1]))
failures = []
for sample in json.load(sys.stdin):
    where = f"{sample['method'].upper()} {sample['path']} {sample['status']}"
    operation = spec["paths"].get(sample["path"], {}).get(sample["method"])
    if operation is None:
        failures.append(f"{where}: the path is not documented")
        continue
    response = operation["responses"].get(str(sample["status"]))
    if response is None:
        failures.append(f"{where}: the status is not documented")
        continue
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        continue
    # The document itself is the root, so #/components/... refs resolve.
    root = dict(spec, **schema)
    for error in jsonschema.Draft202012Validator(root).iter_errors(sample["body"]):
        failures.append(f"{where}: {error.message} at {'/'.join(map(str, error.absolute_path))}")
json.dump(failures, sys.stdout)
sys.exit(1 if failures else 0)
