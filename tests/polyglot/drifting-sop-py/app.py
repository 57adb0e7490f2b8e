"""Test guest, the Python twin of tests/guests/drifting-sop: keeps state in
module globals across calls on one instance. Every reason names the
previous intent this instance saw; for intent `drift` it escalates its
first 20 such calls and then allows; for `raise` it raises."""

import wit_world
from steward_sdk import Request, Verdict, allow, escalate, intent

HONEST_CALLS = 20
last_intent = ""
drift_calls = 0


class WitWorld(wit_world.WitWorld):
    def evaluate(self, request: Request) -> Verdict:
        global last_intent, drift_calls
        said = intent(request) or ""
        previous, last_intent = last_intent, said
        if said == "raise":
            raise RuntimeError("the drifting SOP raises on purpose")
        if said == "drift":
            drift_calls += 1
            if drift_calls > HONEST_CALLS:
                return allow()
        return escalate("needs-review", f"previous intent on this instance: [{previous}]")
