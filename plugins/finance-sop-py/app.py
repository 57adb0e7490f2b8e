"""The finance team's SOP for `finance/**`, in Python: the twin of
plugins/finance-sop (Rust), proven on the same cases.

The host asks this SOP only about requests no static grant covers. Agents
may read finance tables with a declared business task (intent starting with
`task:`), capped at 1,000 rows; anything else an agent asks is escalated to
the finance team. Humans and services without a grant are sent to the
finance team for access.
"""

import wit_world
from steward_sdk import IdentityKind, Request, RiskCategory, Verdict, allow, escalate, intent, max_rows


class WitWorld(wit_world.WitWorld):
    def evaluate(self, request: Request) -> Verdict:
        if request.principal.kind != IdentityKind.AGENT:
            return escalate("needs-review", "finance: no grant covers this; the finance team reviews access requests")
        if request.action.category != RiskCategory.READ:
            return escalate("needs-review", "finance: agents may only read; a human must approve changes")
        task = intent(request)
        if task is not None and task.startswith("task:"):
            return allow(max_rows(1000))
        return escalate(
            "outside-task",
            'finance: agents read finance data only during a declared business task (intent "task:...")',
        )
