// The JavaScript twin of tests/guests/query-tool: runs the `sql` it is
// given as its caller, with one call-back, and answers the host's answer.
import { query } from '../../../sdk/js/steward-gate.js';

export function describe() {
  return {
    name: 'query-tool-js',
    summary: 'runs one query as you',
    inputSchema: JSON.stringify({ type: 'object', properties: { sql: { type: 'string' } }, required: ['sql'] }),
  };
}

export function declare() {
  return { action: 'sql.read', category: 'read', riskScore: 0.1 };
}

export function invoke(caller, argumentsText) {
  const args = JSON.parse(argumentsText);
  if (typeof args.sql !== 'string') return { tag: 'err', val: { tag: 'invalid-arguments', val: 'give "sql"' } };
  return JSON.stringify(query(args.sql, { intent: args.intent }));
}
