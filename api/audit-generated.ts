import { ZkpoaError } from '../attribution/errors.js';
import type { LmServing } from '../inference/lm-serving.js';
import type { Check } from './audit.js';
import type { SpanIndexes } from './span-indexes.js';
import { AdapterRegistryStore } from './store/adapters.js';
import type { Db } from './store/db.js';
import type { Host } from './store/hosts.js';
import { ReceiptStore, type GeneratedOutput } from './store/receipts.js';

/** Two credit maps are the same when they credit the same contributors with the same tokens. */
function sameCredit(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * Replays a generated answer's receipt: the answer generated again from its prompt on the
 * same adapter with the recorded sampling (the engine gives a sequence what it gives it
 * alone, so the text must come back bit for bit on the same backend), and its spans
 * looked up again in the adapter's datanet version (the same spans, the same credit).
 * Generated answers are not proven yet: there is no batch, proof or settlement to check.
 */
export async function auditGenerated(db: Db, host: Host, receiptId: string, deps: { lm: LmServing; spans?: SpanIndexes }): Promise<{ ok: boolean; checks: Check[] }> {
  const rc = new ReceiptStore(db).get(host, receiptId);
  if (!('text' in rc.output)) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `receipt ${receiptId} is a classifier's answer`);
  const recorded: Partial<GeneratedOutput> & Pick<GeneratedOutput, 'text' | 'tokens'> = rc.output;
  if (!recorded.sampling || !recorded.generatedBy) throw new ZkpoaError('ZKPOA_ERR_NO_INDEX', `receipt ${receiptId} was stored before generated answers recorded what replaying them takes`);
  const adapter = new AdapterRegistryStore(db).byKey(rc.adapterKey)!;
  const checks: Check[] = [];

  // bit for bit only with the same arithmetic: another backend or base model is told, not called a forgery
  const here = await deps.lm.identity();
  if (here.backend !== recorded.generatedBy.backend || here.model !== recorded.generatedBy.model) {
    checks.push({ name: 'answer', ok: false, detail: `generated on backend ${recorded.generatedBy.backend} with model ${recorded.generatedBy.model.slice(0, 12)}…; this server runs ${here.backend} with ${here.model.slice(0, 12)}…: not replayable bit for bit here` });
  } else {
    const engine = await deps.lm.engine();
    const again = await engine.generate({ prompt: rc.input, adapterId: rc.adapterKey, ...recorded.sampling });
    const sameText = again.text === recorded.text && again.tokens.length === recorded.tokens;
    checks.push({ name: 'answer', ok: sameText, detail: sameText ? `${again.tokens.length} tokens generated again, the same text` : `generated again: ${again.tokens.length} tokens ${JSON.stringify(again.text.slice(0, 80))}; recorded ${recorded.tokens} ${JSON.stringify(recorded.text.slice(0, 80))}` });
  }

  if (!deps.spans) checks.push({ name: 'spans', ok: false, detail: 'this server keeps no span indexes' });
  else {
    // the credit the version's records owe the answer, against the receipt's (none recorded: none may be owed)
    const found = recorded.text ? await deps.spans.find(host, adapter.datanetId, adapter.datanetVersion, recorded.text, {}) : { spans: [], credit: {} };
    const want = recorded.spans ?? { count: 0, credit: {} };
    const same = found.spans.length === want.count && sameCredit(found.credit, want.credit);
    checks.push({
      name: 'spans',
      ok: same,
      detail: `${found.spans.length} spans crediting ${Object.keys(found.credit).length} contributors in ${adapter.datanetId} version ${adapter.datanetVersion}; the receipt ${recorded.spans ? `records ${recorded.spans.count}` : 'records none (the span index was being built)'}${same ? '' : ': the credit differs'}`,
    });
  }
  return { ok: checks.every((c) => c.ok), checks };
}
