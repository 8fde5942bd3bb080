import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Registrar } from '../registration.js';
import type { BatchStatus, Settler } from '../settlement.js';
import { AdapterRegistryStore } from '../store/adapters.js';
import { BatchStore } from '../store/batches.js';
import { DatanetStore } from '../store/datanets.js';
import type { Db } from '../store/db.js';
import { caller, errorReplies } from './common.js';

const WINDOW_S = 60;
const Stages = Type.Object({ proving: Type.Integer(), proven: Type.Integer(), settled: Type.Integer(), failed: Type.Integer() });

/** A host's pipeline at a glance (the dashboard's host page): adapters, answers, proofs, settlement, escrow. */
export function overviewRoutes(db: Db, settler: Settler, registrar: Registrar): FastifyPluginAsyncTypebox {
  const adapters = new AdapterRegistryStore(db);
  const batches = new BatchStore(db);
  const datanets = new DatanetStore(db, 1); // reads only: the pending quota does not apply
  const answers = db.prepare('SELECT COUNT(*) n FROM receipts WHERE adapter_id = ?');
  const recent = db.prepare('SELECT COUNT(*) n FROM receipts WHERE adapter_id = ? AND created_at >= ?');
  const records = db.prepare("SELECT SUM(status = 'pending') pending, SUM(status = 'accepted') accepted, COUNT(DISTINCT contributor) contributors FROM records WHERE datanet_id = ?");
  const versions = db.prepare('SELECT COUNT(*) n FROM datanet_versions WHERE datanet_id = ?');
  // settled batches are counted in SQL; only the others need their proof job's state
  const settled = db.prepare('SELECT COUNT(*) n, SUM(count) answers, SUM(CAST(gas_used AS INTEGER)) gas FROM batches WHERE adapter_id = ? AND settle_tx IS NOT NULL AND gas_used IS NOT NULL');
  const settledCount = db.prepare('SELECT COUNT(*) n FROM batches WHERE adapter_id = ? AND settle_tx IS NOT NULL');
  return async (app) => {
    app.get(
      '/overview',
      {
        config: { auth: true },
        schema: {
          summary: `The caller's pipeline: adapters with their answers (and answers a second over the last ${WINDOW_S} s), batches by stage, gas per settled answer; datanets; the linked wallet's escrow`,
          response: {
            200: Type.Object({
              host: Type.Object({ id: Type.Integer(), name: Type.String(), wallet: Type.Optional(Type.String()) }),
              escrow: Type.Optional(Type.Object({ balance: Type.String(), operatorApproved: Type.Boolean() })),
              answersPerSecond: Type.Number(),
              batches: Type.Object({ ...Stages.properties }, { description: 'batches by stage; proving is the proof queue (waiting for or in a proof)' }),
              adapters: Type.Array(
                Type.Object({
                  id: Type.String(),
                  status: Type.String(),
                  datanetId: Type.String(),
                  datanetVersion: Type.Integer(),
                  onchainId: Type.Optional(Type.String()),
                  answers: Type.Integer(),
                  answersPerSecond: Type.Number(),
                  batches: Stages,
                  gasPerAnswer: Type.Optional(Type.Integer({ description: 'settlement gas over the settled answers' })),
                }),
              ),
              datanets: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), contributors: Type.Integer(), pending: Type.Integer(), accepted: Type.Integer(), versions: Type.Integer() })),
            }),
            ...errorReplies,
          },
        },
      },
      async (req) => {
        const host = caller(req.caller);
        const since = new Date(Date.now() - WINDOW_S * 1000).toISOString();
        const rows = await Promise.all(
          adapters.list(host).map(async (a) => {
            const stages = { proving: 0, proven: 0, settled: (settledCount.get(a.key) as { n: number }).n, failed: 0 };
            for (const b of batches.unsettled(a.key)) stages[(await settler.state(b)).status]++;
            const gas = settled.get(a.key) as { answers: number | null; gas: number | null };
            const reg = registrar.registration(a.key);
            return {
              id: a.id,
              status: a.status,
              datanetId: a.datanetId,
              datanetVersion: a.datanetVersion,
              ...(reg ? { onchainId: reg.onchainId.toString() } : {}),
              answers: (answers.get(a.key) as { n: number }).n,
              answersPerSecond: (recent.get(a.key, since) as { n: number }).n / WINDOW_S,
              batches: stages,
              ...(gas.answers && gas.gas !== null ? { gasPerAnswer: Math.round(gas.gas / gas.answers) } : {}),
            };
          }),
        );
        const sum = (k: BatchStatus) => rows.reduce((s, r) => s + r.batches[k], 0);
        // an unreachable chain leaves the escrow out rather than failing the page
        const escrow = host.wallet && (await registrar.chainInfo().catch(() => undefined)) ? await registrar.escrowOf(host.wallet).catch(() => undefined) : undefined;
        return {
          host: { id: host.id, name: host.name, ...(host.wallet ? { wallet: host.wallet } : {}) },
          ...(escrow ? { escrow } : {}),
          answersPerSecond: rows.reduce((s, r) => s + r.answersPerSecond, 0),
          batches: { proving: sum('proving'), proven: sum('proven'), settled: sum('settled'), failed: sum('failed') },
          adapters: rows,
          datanets: datanets.listOwned(host).map((d) => {
            const r = records.get(d.id) as { pending: number | null; accepted: number | null; contributors: number };
            return { id: d.id, name: d.name, contributors: r.contributors, pending: r.pending ?? 0, accepted: r.accepted ?? 0, versions: (versions.get(d.id) as { n: number }).n };
          }),
        };
      },
    );
  };
}
