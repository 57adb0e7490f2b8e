"""The Python twin of tests/guests/query-tool: runs the ``sql`` it is given
as its caller, with one call-back, and answers the host's answer."""

import json

import wit_world
from steward_sdk import CallBackRefused, Principal, ToolDescription, access_denied, declare, describe, invalid_arguments, query


class WitWorld(wit_world.WitWorld):
    def describe(self) -> ToolDescription:
        return describe("query-tool-py", "runs one query as you", {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]})

    def declare(self):
        return declare("sql.read", "read", 0.1)

    def invoke(self, caller: Principal, arguments: str) -> str:
        args = json.loads(arguments)
        if not isinstance(args.get("sql"), str):
            raise invalid_arguments('give "sql"')
        try:
            return json.dumps(query(args["sql"], intent=args.get("intent")))
        except CallBackRefused as e:
            raise access_denied(str(e))
