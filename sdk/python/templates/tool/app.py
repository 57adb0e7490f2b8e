"""{{name}}: a sub-agent tool, in Python (world `tool` of steward:guardrail@0.2.0).

It describes itself and runs on the agent's JSON arguments. This one looks
an asset up in the host's catalog: `{"path": "sales/orders"}` in, the
asset's kind, owner, tags and significance out.
"""

import json

import wit_world
from steward_sdk import Principal, ToolDescription, describe, invalid_arguments, log_debug, lookup

INPUT_SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "a catalog path, e.g. sales/orders"}},
    "required": ["path"],
    "additionalProperties": False,
}


class WitWorld(wit_world.WitWorld):
    def describe(self) -> ToolDescription:
        return describe("{{name}}", "Looks an asset up in the catalog: its kind, owner, tags and significance", INPUT_SCHEMA)

    def invoke(self, caller: Principal, arguments: str) -> str:
        try:
            args = json.loads(arguments)
        except ValueError as e:
            raise invalid_arguments("arguments must be JSON: %s" % e)
        if not isinstance(args, dict) or not isinstance(args.get("path"), str):
            raise invalid_arguments('arguments must be an object with a string "path"')
        log_debug("catalog lookup", caller=caller.id, path=args["path"])
        asset = lookup(args["path"])
        if asset is None:
            return json.dumps({"path": args["path"], "found": False})
        return json.dumps({
            "path": asset.path,
            "found": True,
            "kind": asset.kind.name.lower(),
            "owner": asset.owner,
            "tags": asset.tags,
            "significance": round(asset.significance, 3),
        })
