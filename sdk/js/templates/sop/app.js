// {{name}}: an owner's standard operating procedure (world `sop`).
//
// The host asks it about requests on the assets its manifest's `scope`
// covers that no static grant settles. This one lets agents read during a
// declared task, at most 500 rows; agents may not change data; a human
// without a grant goes to the owner for review.
//
// Build: `steward plugin build .`   Test: `steward plugin test .`
import { allow, deny, escalate, intent, log, maxRows } from './steward-sdk.js';
import { context } from './steward-context.js';

export function evaluate(request) {
  const { principal, action } = request;
  if (principal.kind !== 'agent') {
    return escalate('needs-review', '{{name}}: no grant covers this; the owner reviews access requests');
  }
  if (action.category !== 'read') {
    return deny('not-permitted', `{{name}}: agents may only read (asked: ${action.name})`);
  }
  const task = intent(request);
  if (task === undefined) {
    return escalate('missing-intent', '{{name}}: say what the data is for (intent)');
  }
  // The request context (0.2.0): for a SQL query, what it reads.
  const query = context()?.query;
  log('info', 'agent read allowed', {
    agent: principal.id,
    for: principal.onBehalfOf ?? '',
    intent: task,
    tables: query ? query.tables.join(',') : '',
  });
  return allow(maxRows(500));
}
