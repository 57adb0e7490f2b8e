"""explore: what the caller may see of a table for the task it declares.

Arguments: ``{"table": "sales/customers", "task": "regional signup trends"}``.

The tool reads the table's catalog entry as the caller sees it, keeps the
columns the task is about (a column whose name or description shares a
word with the task; all of them when none does), and asks the host for a
preview of those columns as the caller, with the task as its intent. The
host decides, masks, filters, samples and charges the caller's budget as
for any preview; the tool reports what came back and why the rest did not.
"""

import json
import re

import wit_world
from steward_sdk import (
    CallBackRefused,
    Principal,
    ToolDescription,
    access_denied,
    catalog,
    declare,
    describe,
    invalid_arguments,
    json_arguments,
    query,
)

INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "table": {"type": "string", "description": "A catalog path, e.g. sales/customers."},
        "task": {"type": "string", "description": "What the exploration is for, in words."},
    },
    "required": ["table", "task"],
    "additionalProperties": False,
}

# Words too common to tie a column to a task.
STOP_WORDS = {"the", "and", "for", "per", "with", "of", "by", "in", "to", "a", "an", "on", "at", "from", "task"}


def words(text):
    """The words of ``text`` that can tie a column to a task, lower case,
    a plural's ``s`` dropped (``signups`` meets ``signup_date``)."""
    out = set()
    for w in re.split(r"[^a-z0-9]+", (text or "").lower()):
        if len(w) > 3 and w.endswith("s"):
            w = w[:-1]
        if len(w) > 2 and w not in STOP_WORDS:
            out.add(w)
    return out


def fitted_columns(item, task):
    """The columns of the entry the task is about, in table order."""
    wanted = words(task)
    columns = item.get("columns") or []
    fitted = [c["name"] for c in columns if words(c["name"].replace("_", " ")) & wanted or words(c.get("description")) & wanted]
    return fitted or [c["name"] for c in columns]


class WitWorld(wit_world.WitWorld):
    def describe(self) -> ToolDescription:
        return describe(
            "explore",
            "Preview a table for a task you name: the columns your task is about, masked and sampled as the owners' rules "
            "say for you, within your daily budget, and why anything is left out. Nothing beyond a preview is returned.",
            INPUT_SCHEMA,
        )

    def declare(self):
        return declare("sql.preview", "read", 0.2)

    def invoke(self, caller: Principal, arguments: str) -> str:
        args = json_arguments(arguments)
        table, task = args.get("table"), args.get("task")
        if not isinstance(table, str) or not isinstance(task, str) or not task.strip():
            raise invalid_arguments('give "table" (a catalog path) and "task" (what the exploration is for)')
        try:
            entry = catalog(table)
            item = entry.get("item")
            if not item or item.get("kind") != "table":
                raise invalid_arguments("no table at %r that you may see; the catalog tool lists what you may" % table)
            columns = fitted_columns(item, task)
            sql = "SELECT %s FROM %s" % (", ".join(columns), item["path"].replace("/", "."))
            answer = query(sql, preview=True, intent="task: " + task.strip())
        except CallBackRefused as e:
            raise access_denied(str(e))
        return json.dumps({
            "table": item["path"],
            "task": task,
            "request_id": answer.get("request_id"),
            "decision": answer.get("decision"),
            "sql": sql,
            "fitted_columns": columns,
            "columns": answer.get("columns", []),
            "rows": answer.get("rows", []),
            "truncated": answer.get("truncated", False),
            "withheld": answer.get("withheld", []),
            "masked": answer.get("masked", []),
            "row_filters": answer.get("row_filters", []),
            "budget": answer.get("budget", {}),
            "why": [r.get("message") for r in answer.get("reasons", [])],
            "instead": answer.get("instead"),
        })
