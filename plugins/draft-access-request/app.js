// draft-access-request: a structured access request for what the caller
// was denied, naming the owners who would decide.
//
// Arguments: `{ "sql": "...", "purpose": "...", "duration_days": 7 }`, or
// `{ "assets": [...], "columns": [...], "action": "sql.read", "purpose": ..., "duration_days": ... }`.
//
// From SQL, the host's dry run as the caller says which tables and columns
// the statement needs and why it is not allowed; each asset's owner comes
// from the catalog as the caller may see it (an asset the caller may not
// know exists is named, since the caller named it, but with no owner).
// The draft is returned to the agent: routing it is the owners' step.
import { alternatives, catalog, decide } from '../../sdk/js/steward-gate.js';

const MAX_ASSETS = 8;
const MAX_DAYS = 90;

export function describe() {
  return {
    name: 'draft-access-request',
    summary:
      'When you are denied: draft the access request to send, with the assets and columns you need, the action, your ' +
      'purpose, for how long, and the owners who would decide. Give the denied SQL, or the assets yourself.',
    inputSchema: JSON.stringify({
      type: 'object',
      properties: {
        sql: { type: 'string', description: 'The denied query.' },
        assets: { type: 'array', items: { type: 'string' }, maxItems: MAX_ASSETS, description: 'Catalog paths, when there is no SQL.' },
        columns: { type: 'array', items: { type: 'string' } },
        action: { type: 'string', default: 'sql.read' },
        purpose: { type: 'string', description: 'Why the access is needed (the business task).' },
        duration_days: { type: 'integer', minimum: 1, maximum: MAX_DAYS, default: 7 },
      },
      required: ['purpose'],
      additionalProperties: false,
    }),
  };
}

export function declare() {
  return { action: 'access.request', category: 'read', riskScore: 0.1 };
}

function invalid(message) {
  return { tag: 'err', val: { tag: 'invalid-arguments', val: message } };
}

export function invoke(caller, argumentsText) {
  let args;
  try {
    args = JSON.parse(argumentsText);
  } catch (e) {
    return invalid(`arguments must be JSON: ${e.message}`);
  }
  const purpose = typeof args.purpose === 'string' ? args.purpose.trim() : '';
  if (!purpose) return invalid('say what the access is for: "purpose"');
  const days = args.duration_days ?? 7;
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) return invalid(`duration_days must be 1..${MAX_DAYS}`);
  const action = args.action ?? 'sql.read';
  const intent = purpose.startsWith('task:') ? purpose : `task: ${purpose}`;

  let assets = [];
  let columns = [];
  let current;
  if (typeof args.sql === 'string') {
    const dry = alternatives(args.sql, intent);
    for (const t of dry.shape?.tables ?? []) {
      assets.push(t.asset);
      for (const c of Object.keys(t.columns ?? {})) columns.push(`${t.asset}.${c}`);
    }
    current = { decision: dry.decision, reasons: dry.reasons ?? [], request_id: dry.request_id };
  } else if (Array.isArray(args.assets) && args.assets.length > 0) {
    assets = args.assets.filter((a) => typeof a === 'string');
    columns = Array.isArray(args.columns) ? args.columns.filter((c) => typeof c === 'string') : [];
  } else {
    return invalid('give the denied "sql", or the "assets" you need');
  }
  assets = [...new Set(assets)].slice(0, MAX_ASSETS);
  if (assets.length === 0) return invalid('the statement reads no table Steward knows');
  if (current === undefined) {
    const d = decide(action, assets, intent);
    current = { decision: d.decision, reasons: d.reasons ?? [], request_id: d.request_id };
  }

  const owners = new Map();
  const unknown = [];
  for (const asset of assets) {
    const item = catalog(asset).item;
    if (item?.owner) {
      if (!owners.has(item.owner)) owners.set(item.owner, []);
      owners.get(item.owner).push(asset);
    } else {
      unknown.push(asset);
    }
  }

  const principal = { id: caller.id, kind: caller.kind, on_behalf_of: caller.onBehalfOf ?? null };
  if (caller.sessionId) principal.session_id = caller.sessionId;
  return JSON.stringify({
    draft: {
      principal,
      assets,
      columns,
      action,
      purpose,
      duration_days: days,
      duration: `P${days}D`,
      owners: [...owners].map(([team, of]) => ({ team, assets: of })),
      owner_unknown: unknown,
      current_decision: current,
    },
    status: 'draft',
    next: 'Send this draft to the owners named; Steward cannot submit access requests yet.',
  });
}
