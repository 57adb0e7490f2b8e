// Steward plugin helpers for JavaScript (steward:guardrail@0.2.0).
//
// Import what you need from this file in your plugin's entry module:
//
//     import { allow, escalate, intent, maxRows } from './steward-sdk.js';
//
//     export function evaluate(request) {
//       if (!intent(request)) return escalate('missing-intent', 'say why you need this data');
//       return allow(maxRows(1000));
//     }
//
// This module imports only `steward:guardrail/log`, which every world has,
// so it works in all of them (classifiers included). The request context
// and the catalog live in `./steward-context.js`, for `sop`, `scorer` and
// `tool` plugins only.
//
// How componentize-js passes WIT values to and from JavaScript:
// - records are plain objects with camelCase fields (`request.principal.onBehalfOf`,
//   `request.action.riskScore`);
// - enums are their WIT names as strings (`'agent'`, `'read'`, `'needs-review'`);
// - `option<T>` is the value or `undefined`; `u64` is a BigInt; `f32` a number;
// - variants are `{ tag, val }` with the WIT case name (`{ tag: 'max-rows', val: 1000 }`);
// - a `result<T, E>` export returns `T` (or `{ tag: 'ok', val }`) for ok and
//   `{ tag: 'err', val: E }` for an error;
// - exports are named exports in camelCase: `evaluate`, `scoreAsset`,
//   `describe` and `invoke`, `classifyColumn`.
//
// The helpers check their arguments and throw a TypeError naming the bad
// value, after logging it (a plugin has no stderr). A plugin that throws
// fails the call: the host records a trap. To see your own exceptions in the
// host's trace too, wrap an export: `export const evaluate = reportErrors((request) => ...)`.

import { emit } from 'steward:guardrail/log@0.2.0';

/** The `reason-code` enum. */
export const REASON_CODES = Object.freeze([
  'not-permitted',
  'outside-task',
  'missing-intent',
  'risk-too-high',
  'sensitive-data',
  'needs-review',
  'other',
]);

/** The `mask-method` enum. */
export const MASK_METHODS = Object.freeze(['null', 'hash', 'last-four', 'redact']);

/** The `log.level` enum. */
export const LOG_LEVELS = Object.freeze(['debug', 'info', 'warn', 'error']);

function fail(message) {
  try {
    emit('error', message, []);
  } catch {
    // The log import refused (e.g. outside a call); throw anyway.
  }
  throw new TypeError(message);
}

function oneOf(what, value, allowed) {
  if (!allowed.includes(value)) {
    fail(`${what} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value;
}

function text(what, value) {
  if (typeof value !== 'string') {
    fail(`${what} must be a string; got ${typeof value}`);
  }
  return value;
}

/**
 * Wrap an export so that an exception it throws is logged (message and
 * stack) before the call fails: `export const evaluate = reportErrors((request) => ...)`.
 */
export function reportErrors(fn) {
  const report = (e) => {
    try {
      emit('error', `${fn.name || 'export'} threw: ${e}`, e?.stack ? [{ key: 'stack', value: String(e.stack) }] : []);
    } catch {
      // Nothing more we can do; the call fails anyway.
    }
    throw e;
  };
  return function (...args) {
    let result;
    try {
      result = fn.apply(this, args);
    } catch (e) {
      report(e);
    }
    return typeof result?.then === 'function' ? result.then(undefined, report) : result;
  };
}

// ---------------------------------------------------------------- verdicts

/** Allow, with the obligations the host must enforce (obligations or arrays of them). */
export function allow(...obligations) {
  return { tag: 'allow', val: obligations.flat() };
}

/** Deny, with a `reason-code` (e.g. 'not-permitted') and a message for the caller. */
export function deny(code, message) {
  return { tag: 'deny', val: reason(code, message) };
}

/** Send the request to a human, with a `reason-code` and a message. */
export function escalate(code, message) {
  return { tag: 'escalate', val: reason(code, message) };
}

function reason(code, message) {
  return { code: oneOf('reason code', code, REASON_CODES), message: text('reason message', message) };
}

// ------------------------------------------------------------- obligations

/** Return at most `n` rows. */
export function maxRows(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    fail(`maxRows needs an integer in [0, 4294967295]; got ${n}`);
  }
  return { tag: 'max-rows', val: n };
}

/** Mask `column` in the result: method 'null' | 'hash' | 'last-four' | 'redact'. */
export function maskColumn(column, method = 'redact') {
  return {
    tag: 'mask-column',
    val: { column: text('maskColumn column', column), method: oneOf('mask method', method, MASK_METHODS) },
  };
}

/** Only rows matching this SQL predicate, e.g. "region = 'emea'". */
export function rowFilter(predicate) {
  return { tag: 'row-filter', val: text('rowFilter predicate', predicate) };
}

/** Tell the asset's owner about this access. */
export function notifyOwner(message) {
  return { tag: 'notify-owner', val: text('notifyOwner message', message) };
}

// ------------------------------------------------------------------ scorer

/** A scorer's answer: significance in [0, 1] and why. */
export function score(significance, rationale) {
  if (typeof significance !== 'number' || !(significance >= 0 && significance <= 1)) {
    fail(`significance must be a number in [0, 1]; got ${significance}`);
  }
  return { significance, rationale: text('score rationale', rationale) };
}

// -------------------------------------------------------------------- tool

/** What a tool says about itself; `inputSchema` is a JSON Schema (object or JSON text). */
export function toolDescription(name, summary, inputSchema) {
  return {
    name: text('tool name', name),
    summary: text('tool summary', summary),
    inputSchema: typeof inputSchema === 'string' ? inputSchema : JSON.stringify(inputSchema),
  };
}

/** A tool's successful result: a value (sent as JSON) or JSON text. */
export function ok(result) {
  return { tag: 'ok', val: typeof result === 'string' ? result : JSON.stringify(result) };
}

/** The agent's arguments are wrong. */
export function invalidArguments(message) {
  return { tag: 'err', val: { tag: 'invalid-arguments', val: text('message', message) } };
}

/** The caller may not do this. */
export function accessDenied(message) {
  return { tag: 'err', val: { tag: 'access-denied', val: text('message', message) } };
}

/** Anything else went wrong. */
export function toolFailed(message) {
  return { tag: 'err', val: { tag: 'other', val: text('message', message) } };
}

// ----------------------------------------------------------------- request

// The characters Rust's `str::trim` removes (Unicode White_Space), so that
// `intent()` means the same thing in every Steward SDK. (JavaScript's own
// `trim()` also removes U+FEFF and keeps U+0085.)
const EDGE_SPACE = /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/** The request's declared intent, trimmed; `undefined` when absent or blank. */
export function intent(request) {
  const declared = request?.intent;
  if (typeof declared !== 'string') return undefined;
  const trimmed = declared.replace(EDGE_SPACE, '');
  return trimmed === '' ? undefined : trimmed;
}

/** True when any asset of the request carries `tag`. */
export function touchesTag(request, tag) {
  return request.assets.some((asset) => asset.tags.includes(tag));
}

// --------------------------------------------------------------------- log

/**
 * Log into the host's trace (tagged with the plugin's name and version).
 * `fields` is an object (`{ table: 'x' }`), a list of `[key, value]` pairs
 * or a list of `{ key, value }`; values are turned into strings.
 */
export function log(level, message, fields = {}) {
  emit(oneOf('log level', level, LOG_LEVELS), String(message), toFields(fields));
}

function toFields(fields) {
  const entries = Array.isArray(fields)
    ? fields.map((f) => (Array.isArray(f) ? f : [f.key, f.value]))
    : Object.entries(fields ?? {});
  return entries.map(([key, value]) => ({ key: String(key), value: fieldValue(value) }));
}

function fieldValue(value) {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}
