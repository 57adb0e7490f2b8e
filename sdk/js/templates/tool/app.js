// {{name}}: a sub-agent tool (world `tool`).
//
// `describe` tells agents what the tool does and what arguments it takes
// (a JSON Schema); `invoke` runs it on the agent's JSON arguments and
// answers JSON. This one counts the words of a text.
//
// Build: `steward plugin build .`   Test: `steward plugin test .`
import { invalidArguments, log, ok, toolDescription } from './steward-sdk.js';

export function describe() {
  return toolDescription('{{name}}', 'Counts the words of a text', {
    type: 'object',
    properties: { text: { type: 'string', description: 'the text to count' } },
    required: ['text'],
    additionalProperties: false,
  });
}

export function invoke(caller, argumentsJson) {
  let args;
  try {
    args = JSON.parse(argumentsJson);
  } catch (e) {
    return invalidArguments(`arguments are not JSON: ${e.message}`);
  }
  if (args === null || typeof args !== 'object' || typeof args.text !== 'string') {
    return invalidArguments('expected {"text": "..."}');
  }
  const words = args.text.split(/\s+/).filter((w) => w !== '').length;
  log('info', 'counted words', { caller: caller.id, words });
  return ok({ words });
}
