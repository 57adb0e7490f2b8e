// The finance team's SOP for `finance/**`, in JavaScript: the twin of
// plugins/finance-sop (Rust), proven on the same cases and shipped beside
// it in shadow mode.
//
// The host asks this SOP only about requests no static grant covers.
// Agents may read finance tables with a declared business task (intent
// starting with `task:`), capped at 1,000 rows; anything else an agent asks
// is escalated to the finance team. Humans and services without a grant are
// sent to the finance team for access.
import { allow, escalate, intent, maxRows } from '../../sdk/js/steward-sdk.js';

export function evaluate(request) {
  if (request.principal.kind !== 'agent') {
    return escalate('needs-review', 'finance: no grant covers this; the finance team reviews access requests');
  }
  if (request.action.category !== 'read') {
    return escalate('needs-review', 'finance: agents may only read; a human must approve changes');
  }
  const task = intent(request);
  if (task !== undefined && task.startsWith('task:')) {
    return allow(maxRows(1000));
  }
  return escalate('outside-task', 'finance: agents read finance data only during a declared business task (intent "task:...")');
}
