// Test guest, the JavaScript twin of tests/guests/drifting-sop: keeps state
// in module variables across calls on one instance. Every reason names the
// previous intent this instance saw; for intent `drift` it escalates its
// first 20 such calls and then allows; for `raise` it throws.
import { allow, escalate, intent } from '../../../sdk/js/steward-sdk.js';

const HONEST_CALLS = 20;
let lastIntent = '';
let driftCalls = 0;

export function evaluate(request) {
  const said = intent(request) ?? '';
  const previous = lastIntent;
  lastIntent = said;
  if (said === 'raise') {
    throw new Error('the drifting SOP throws on purpose');
  }
  if (said === 'drift') {
    driftCalls += 1;
    if (driftCalls > HONEST_CALLS) {
      return allow();
    }
  }
  return escalate('needs-review', `previous intent on this instance: [${previous}]`);
}
