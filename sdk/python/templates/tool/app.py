"""{{name}}: a sub-agent tool, in Python (world `tool` of steward:guardrail@0.3.0).

It describes itself, declares the action it performs, and runs on the
agent's JSON arguments, calling Steward back as its caller. This one reads
a catalog entry as the caller may see it: `{"path": "sales/orders"}` in,
the entry (its kind, owner, tags, columns) out, or `null` when the caller
may not know it exists.
"""

import json

import wit_world
from steward_sdk import CallBackRefused, Principal, ToolDescription, access_denied, catalog, declare, describe, invalid_arguments, json_arguments, log_debug

INPUT_SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "a catalog path, e.g. sales/orders"}},
    "required": ["path"],
    "additionalProperties": False,
}


class WitWorld(wit_world.WitWorld):
    def describe(self) -> ToolDescription:
        return describe("{{name}}", "Looks a catalog entry up, as you may see it", INPUT_SCHEMA)

    def declare(self):
        # The action the tool performs (from the host's action catalog) and
        # its risk: it is offered only to callers who could be allowed it.
        return declare("catalog.read", "read", 0.0)

    def invoke(self, caller: Principal, arguments: str) -> str:
        args = json_arguments(arguments)
        if not isinstance(args.get("path"), str):
            raise invalid_arguments('arguments must be an object with a string "path"')
        log_debug("catalog lookup", caller=caller.id, path=args["path"])
        try:
            # Runs as the caller: the answer is the caller's view.
            return json.dumps(catalog(args["path"]))
        except CallBackRefused as e:
            raise access_denied(str(e))
