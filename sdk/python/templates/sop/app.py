"""{{name}}: an owner's SOP, in Python (world `sop` of steward:guardrail@0.2.0).

The host asks it about requests on the assets its manifest's `scope` covers
that no static grant allows. This one lets agents read during a declared
task (an intent starting with `task:`), capped at 500 rows and, when the
human they act for has a `region` attribute, limited to that region's rows;
it refuses agents personal data (assets tagged `pii`) and sends everything
else to the owners for review.
"""

import wit_world
from steward_sdk import (
    IdentityKind,
    Request,
    RiskCategory,
    Verdict,
    allow,
    attribute,
    deny,
    escalate,
    intent,
    log_info,
    max_rows,
    row_filter,
    touches_tag,
)


class WitWorld(wit_world.WitWorld):
    def evaluate(self, request: Request) -> Verdict:
        if request.principal.kind != IdentityKind.AGENT or request.action.category != RiskCategory.READ:
            return escalate("needs-review", "{{name}}: only agents' reads are decided here; the owners review the rest")
        task = intent(request)
        if task is None or not task.startswith("task:"):
            return escalate("outside-task", '{{name}}: declare the business task (intent "task: ...")')
        if touches_tag(request, "pii"):
            return deny("sensitive-data", "{{name}}: agents may not read personal data; use a curated view")
        obligations = [max_rows(500)]
        # 0.2.0 request context: the attributes of the human the agent acts for.
        region = attribute("region", on_behalf_of=True)
        if region:
            obligations.append(row_filter("region = '%s'" % region.replace("'", "''")))
        log_info("allowed an agent's read", task=task, assets=",".join(a.path for a in request.assets))
        return allow(*obligations)
