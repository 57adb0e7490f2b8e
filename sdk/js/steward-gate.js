// Call-backs into Steward for `tool` plugins built against
// steward:guardrail@0.3.0 (`wit = "…/wit/v0.3.0"`). Every call runs as the
// principal who called the tool, through the same gate as every door, and
// answers the JSON document the HTTP API answers (parsed here):
//
//     import { query, decide, catalog, alternatives } from './steward-gate.js';
//
//     const answer = query('SELECT region FROM sales.orders', { preview: true, intent: 'task: Q3' });
//     if (answer.decision !== 'allow') { ... answer.reasons, answer.instead ... }
//
// A call the gate decided is never an exception, whatever it decided. The
// host refusing a call before the gate (outside `invoke`, beyond
// `limits.max_calls`, after the deadline, arguments it cannot use) throws a
// `CallBackRefused`.

import * as gate from 'steward:guardrail/gate@0.3.0';

export class CallBackRefused extends Error {}

function call(fn, ...args) {
  let text;
  try {
    text = fn(...args);
  } catch (e) {
    // componentize-js throws an imported function's `err` as an error
    // whose `payload` is the call-error variant: `{ tag, val }`.
    const why = e?.payload?.val ?? e?.payload ?? e?.message ?? String(e);
    throw new CallBackRefused(String(why));
  }
  return JSON.parse(text);
}

/** Run one statement as the caller: what `/v1/query` answers. */
export function query(sql, { preview = false, intent } = {}) {
  return call(gate.query, sql, preview ? 'preview' : 'full', intent);
}

/** What would be decided for the caller: what `/v1/decide` answers. */
export function decide(action, assets, intent) {
  return call(gate.decide, action, assets, intent);
}

/** The caller's catalog: `{ items }`, or `{ item }` for one path (`null` when the caller may not see it). */
export function catalog(path) {
  return call(gate.catalog, path);
}

/** The statement dry-run as the caller and, when not allowed, the host's alternatives (`instead.alternatives`). */
export function alternatives(sql, intent) {
  return call(gate.alternatives, sql, intent);
}
