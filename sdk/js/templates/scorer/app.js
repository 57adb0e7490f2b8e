// {{name}}: an asset-class risk scorer (world `scorer`).
//
// The host asks it how significant an asset is for an action, and only ever
// raises an asset's significance with the answer, never lowers it. This one
// puts a floor under sensitive data and adds a little for changes.
//
// Build: `steward plugin build .`   Test: `steward plugin test .`
import { log, score } from './steward-sdk.js';

// Tag -> the least significance an asset with that tag has.
const FLOORS = { pii: 0.8, financial: 0.6 };

export function scoreAsset(asset, action) {
  let significance = asset.significance;
  let why = 'catalog significance';
  for (const tag of asset.tags) {
    const floor = FLOORS[tag];
    if (floor !== undefined && floor > significance) {
      significance = floor;
      why = `tagged ${tag}`;
    }
  }
  if (action.category === 'write' || action.category === 'delete') {
    significance += 0.1;
    why += `; ${action.name} changes data`;
  }
  significance = Math.min(1, Math.max(0, significance));
  log('debug', 'scored', { asset: asset.path, action: action.name, significance });
  return score(significance, why);
}
