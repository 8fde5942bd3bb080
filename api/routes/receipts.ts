import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { VerificationKey } from 'snarkjs';
import { unpackHeader } from '../../attribution/index.js';
import type { Batcher } from '../../inference/batcher.js';
import type { Auditor } from '../audit.js';
import type { Ledgers } from '../ledger.js';
import type { Settler } from '../settlement.js';
import { AdapterRegistryStore } from '../store/adapters.js';
import { BatchStore, SIGNAL, type Batch } from '../store/batches.js';
import type { Db } from '../store/db.js';
import { ReceiptStore } from '../store/receipts.js';
import { caller, errorReplies } from './common.js';
import { ZkpoaError } from '../../attribution/errors.js';
import type { LmServing } from '../../inference/lm-serving.js';
import { auditGenerated } from '../audit-generated.js';
import type { SpanIndexes } from '../span-indexes.js';

const errors = errorReplies;
const ReceiptId = Type.String({ pattern: '^rc_[0-9a-f-]{36}$' });
const hex = (x: bigint) => '0x' + x.toString(16);

/** A batch as its host sees it: its receipts, its proof job, its ledger roots, its transaction. */
export const BatchView = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  first: Type.Integer(),
  count: Type.Integer(),
  status: Type.String(),
  job: Type.Object({ id: Type.String(), status: Type.String(), attempts: Type.Integer(), error: Type.Optional(Type.String()) }),
  fee: Type.String(),
  paid: Type.String(),
  receiptsRoot: Type.String(),
  oldRoot: Type.String(),
  newRoot: Type.String(),
  settleTx: Type.Optional(Type.String()),
});

export async function batchView(settler: Settler, b: Batch) {
  const state = await settler.state(b);
  return {
    id: b.id,
    version: b.version,
    first: b.first,
    count: b.count,
    status: state.status,
    job: { id: b.jobId, status: state.job?.status ?? 'missing', attempts: state.job?.attempts ?? 0, ...(state.job?.error ? { error: state.job.error } : {}) },
    fee: unpackHeader(b.publicSignals[SIGNAL.header]!).fee.toString(),
    paid: b.publicSignals[SIGNAL.paid]!.toString(),
    receiptsRoot: hex(b.publicSignals[SIGNAL.receiptsRoot]!),
    oldRoot: hex(b.publicSignals[SIGNAL.oldRoot]!),
    newRoot: hex(b.publicSignals[SIGNAL.newRoot]!),
    ...(b.settleTx ? { settleTx: b.settleTx } : {}),
  };
}

/** A receipt, its batch and proof, and the auditor's replay of it. */
/** `audit`: what replaying an answer takes (a generated answer: the language model and the span indexes). */
export function receiptRoutes(db: Db, settler: Settler, auditor: Auditor, ledgers: Ledgers, audit?: { batcher: Batcher; vkey: (variantName: string) => Promise<VerificationKey>; lm?: LmServing; spans?: SpanIndexes }): FastifyPluginAsyncTypebox {
  const receipts = new ReceiptStore(db);
  const batches = new BatchStore(db);
  const adapters = new AdapterRegistryStore(db);
  return async (app) => {
    app.get(
      '/receipts/:id',
      {
        config: { auth: true },
        schema: {
          summary: 'A receipt: its number, answer and batch (proof job, ledger roots, settlement transaction), and the proof once made',
          params: Type.Object({ id: ReceiptId }),
          response: {
            200: Type.Object({
              id: Type.String(),
              number: Type.Integer(),
              answer: Type.Union([
                Type.Object({ label: Type.String(), probabilities: Type.Array(Type.Number()) }),
                Type.Object({
                  text: Type.String(),
                  tokens: Type.Integer(),
                  finish: Type.String(),
                  sampling: Type.Optional(Type.Object({ maxTokens: Type.Integer(), temperature: Type.Optional(Type.Number()), topK: Type.Optional(Type.Integer()), topP: Type.Optional(Type.Number()), seed: Type.Optional(Type.Integer()) })),
                  generatedBy: Type.Optional(Type.Object({ backend: Type.String(), model: Type.String() })),
                  spans: Type.Optional(Type.Union([Type.Object({ count: Type.Integer(), credit: Type.Record(Type.String(), Type.Number()) }), Type.Null()])),
                }),
              ]),
              createdAt: Type.String(),
              adapter: Type.String(),
              batch: Type.Optional(BatchView),
              split: Type.Optional(
                Type.Array(Type.Object({ payee: Type.String(), score: Type.String(), share: Type.String() }), { description: 'each contributor’s score max(0, <t, G_c>) and share of this answer’s pool (wei), once the answer is batched' }),
              ),
              proof: Type.Optional(Type.Object({ proof: Type.Unknown(), publicSignals: Type.Array(Type.String()) })),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const rc = receipts.get(caller(req.caller), req.params.id);
        const batch = batches.containing(rc.adapterKey, rc.number);
        const proof = batch ? (await settler.state(batch)).proof : undefined;
        const split = ledgers.answerSplit(rc.adapterKey, rc.number);
        return {
          id: rc.id,
          number: rc.number,
          answer: rc.output,
          createdAt: rc.createdAt,
          adapter: adapters.byKey(rc.adapterKey)!.id,
          ...(batch ? { batch: await batchView(settler, batch) } : {}),
          ...(split ? { split: split.map((x) => ({ payee: x.payee, score: x.score.toString(), share: x.share.toString() })) } : {}),
          ...(proof ? { proof: { proof: proof.proof, publicSignals: proof.publicSignals.map(String) } } : {}),
        };
      },
    );

    if (audit) {
      app.post(
        '/audit/:id',
        {
          config: { auth: true },
          schema: {
            summary: 'Replay a receipt, each check reported: a classifier’s answer, features, receipt in its batch, split and ledger, batch proof and settlement; a generated answer and its spans',
            params: Type.Object({ id: ReceiptId }),
            response: { 200: Type.Object({ ok: Type.Boolean(), checks: Type.Array(Type.Object({ name: Type.String(), ok: Type.Boolean(), detail: Type.String() })) }), ...errors },
          },
        },
        async (req) => {
          const host = caller(req.caller);
          if ('text' in receipts.get(host, req.params.id).output) {
            if (!audit.lm) throw new ZkpoaError('ZKPOA_ERR_MODEL', 'this server has no language model to replay a generated answer with');
            return auditGenerated(db, host, req.params.id, { lm: audit.lm, ...(audit.spans ? { spans: audit.spans } : {}) });
          }
          return auditor.audit(host, req.params.id, { batcher: audit.batcher, vkey: audit.vkey });
        },
      );
    }
  };
}
