// The request context and the catalog, for `sop`, `scorer` and `tool`
// plugins (steward:guardrail@0.2.0). A `classifier` has neither: it must not
// import this module (its build fails with "Error loading module
// steward:guardrail/context@0.2.0"); `./steward-sdk.js` is safe everywhere.
//
//     import { context, attribute } from './steward-context.js';
//
//     const ctx = context();                 // undefined outside a host call
//     if (ctx?.query && !ctx.query.aggregated) { ... }
//     if (attribute('region') === 'emea') { ... }

import { current } from 'steward:guardrail/context@0.2.0';
import { lookup as catalogLookup, children as catalogChildren } from 'steward:guardrail/catalog@0.2.0';

/**
 * The context of the request this call is about, or `undefined` (outside a
 * call). Fields: `receivedAtMs` (a BigInt, ms since the Unix epoch),
 * `attributes` and `onBehalfOfAttributes` (lists of `{ key, value }`),
 * `query` (`undefined`, or `{ statement, sql, tables, outputColumns,
 * aggregated }` for a SQL query).
 */
export function context() {
  return current() ?? undefined;
}

/**
 * The caller's attribute `key` (e.g. 'region'), or `undefined`. With
 * `{ onBehalfOf: true }`: the attribute of the human an agent acts for.
 */
export function attribute(key, { onBehalfOf = false } = {}) {
  const ctx = context();
  if (!ctx) return undefined;
  const list = onBehalfOf ? ctx.onBehalfOfAttributes : ctx.attributes;
  return list.find((a) => a.key === key)?.value;
}

/**
 * When the host received the request, as a Date (undefined outside a call).
 * Use this rather than `Date.now()`: a plugin has no clock, and `Date.now()`
 * answers the time the component was built.
 */
export function receivedAt() {
  const ctx = context();
  return ctx ? new Date(Number(ctx.receivedAtMs)) : undefined;
}

/** The catalog's asset at `path` (`{ path, kind, owner, tags, significance }`), or undefined. */
export function lookup(path) {
  return catalogLookup(path) ?? undefined;
}

/** The assets directly under the folder at `path`. */
export function children(path) {
  return catalogChildren(path);
}
