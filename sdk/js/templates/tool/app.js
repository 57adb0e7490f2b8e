// {{name}}: a sub-agent tool (world `tool` of steward:guardrail@0.3.0).
//
// `describe` tells agents what the tool does and what arguments it takes
// (a JSON Schema); `declare` names the action it performs and its risk;
// `invoke` runs it on the agent's JSON arguments and answers JSON, calling
// Steward back as its caller (`./steward-gate.js`). This one reads a
// catalog entry as the caller may see it.
//
// Build: `steward plugin build .`   Test: `steward plugin test .`
// (`./steward-sdk.js` is for the 0.2.0 worlds: a 0.3.0 tool uses
// `./steward-gate.js`.)
import { CallBackRefused, catalog } from './steward-gate.js';

export function describe() {
  return {
    name: '{{name}}',
    summary: 'Looks a catalog entry up, as you may see it',
    inputSchema: JSON.stringify({
      type: 'object',
      properties: { path: { type: 'string', description: 'a catalog path, e.g. sales/orders' } },
      required: ['path'],
      additionalProperties: false,
    }),
  };
}

// The action the tool performs (from the host's action catalog) and its
// risk: it is offered only to callers who could be allowed it.
export function declare() {
  return { action: 'catalog.read', category: 'read', riskScore: 0 };
}

export function invoke(caller, argumentsJson) {
  let args;
  try {
    args = JSON.parse(argumentsJson);
  } catch (e) {
    return { tag: 'err', val: { tag: 'invalid-arguments', val: `arguments are not JSON: ${e.message}` } };
  }
  if (args === null || typeof args !== 'object' || typeof args.path !== 'string') {
    return { tag: 'err', val: { tag: 'invalid-arguments', val: 'expected {"path": "..."}' } };
  }
  try {
    // Runs as the caller: the answer is the caller's view.
    return JSON.stringify(catalog(args.path));
  } catch (e) {
    if (e instanceof CallBackRefused) return { tag: 'err', val: { tag: 'access-denied', val: e.message } };
    throw e;
  }
}
