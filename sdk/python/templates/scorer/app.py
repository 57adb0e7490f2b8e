"""{{name}}: a risk scorer, in Python (world `scorer` of steward:guardrail@0.2.0).

The host asks it how significant an asset is for an action; the answer (in
[0, 1]) feeds the risk ceiling, and the host only ever raises an asset's
significance with it. This one sets a floor for sensitive tags and adds 0.2
for anything but a read.
"""

import wit_world
from steward_sdk import Action, Asset, RiskCategory, Score, score

# The least significance an asset carrying each tag has.
TAG_FLOORS = {"compensation": 0.9, "pii": 0.7, "financial": 0.6}


class WitWorld(wit_world.WitWorld):
    def score_asset(self, asset: Asset, action: Action) -> Score:
        significance = max([asset.significance] + [TAG_FLOORS[t] for t in asset.tags if t in TAG_FLOORS])
        if action.category != RiskCategory.READ:
            significance += 0.2
        return score(significance, "{{name}}: %s for %s" % (asset.path, action.name))
