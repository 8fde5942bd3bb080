import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ZkpoaError } from '../../attribution/errors.js';
import type { BatchPlanner } from '../batching.js';
import type { Registrar } from '../registration.js';
import type { Settler } from '../settlement.js';
import { AdapterRegistryStore } from '../store/adapters.js';
import { BatchStore } from '../store/batches.js';
import type { Db } from '../store/db.js';
import { AdapterId, caller, errorReplies } from './common.js';
import { BatchView, batchView } from './receipts.js';

const errors = errorReplies;
const Wei = Type.String({ pattern: '^[0-9]{1,25}$', description: 'an amount of OPEN in wei, as a decimal string' });
const Bps = Type.Integer({ minimum: 0, maximum: 10_000 });
const Terms = Type.Object({ price: Wei, ownerBps: Bps, protocolBps: Bps, poolBps: Bps }, { additionalProperties: false });
const RegistrationView = Type.Object({
  adapterId: Type.String(),
  onchainId: Type.String(),
  hostWallet: Type.String(),
  chainId: Type.String(),
  settlement: Type.String(),
  tx: Type.String(),
  versions: Type.Array(Type.Object({ version: Type.Integer(), firstReceipt: Type.Integer(), price: Type.String(), poolBps: Type.Integer(), binding: Type.String(), tx: Type.String() })),
});

const view = (name: string, reg: NonNullable<ReturnType<Registrar['registration']>>) => ({
  adapterId: name,
  onchainId: reg.onchainId.toString(),
  hostWallet: reg.hostWallet,
  chainId: reg.chainId.toString(),
  settlement: reg.settlement,
  tx: reg.tx,
  versions: reg.versions.map((v) => ({ version: v.version, firstReceipt: v.firstReceipt, price: v.price.toString(), poolBps: v.poolBps, binding: '0x' + v.binding.toString(16), tx: v.tx })),
});

/** An adapter on-chain: registration and terms, its batches, their proofs and settlement. */
export function onchainRoutes(db: Db, registrar: Registrar, planner: BatchPlanner, settler: Settler): FastifyPluginAsyncTypebox {
  const adapters = new AdapterRegistryStore(db);
  const batches = new BatchStore(db);
  return async (app) => {
    app.get(
      '/deployment',
      {
        schema: {
          summary: 'The chain and contracts this server settles on (public): what `zkpoa claim --deployment <this URL>` reads',
          security: [],
          response: { 200: Type.Object({ chainId: Type.String(), settlement: Type.String(), open: Type.String(), rpc: Type.Optional(Type.String({ description: 'an RPC contributors may use' })) }), ...errors },
        },
      },
      async () => registrar.deployment(),
    );

    app.post(
      '/adapters/:id/register',
      { config: { auth: true }, schema: { summary: 'Register the adapter and its index on-chain with a price and fee shares (its host wallet pays)', params: Type.Object({ id: AdapterId }), body: Terms, response: { 201: RegistrationView, ...errors } } },
      async (req, reply) => reply.status(201).send(view(req.params.id, await registrar.register(caller(req.caller), req.params.id, { ...req.body, price: BigInt(req.body.price) }))),
    );

    app.put(
      '/adapters/:id/terms',
      { config: { auth: true }, schema: { summary: 'New price and shares: a new on-chain version from the adapter’s next answer on', params: Type.Object({ id: AdapterId }), body: Terms, response: { 200: RegistrationView, ...errors } } },
      async (req) => view(req.params.id, await registrar.setTerms(caller(req.caller), req.params.id, { ...req.body, price: BigInt(req.body.price) })),
    );

    app.get(
      '/adapters/:id/batches',
      { config: { auth: true }, schema: { summary: 'The adapter’s batches: receipts, proof jobs, ledger roots, settlement', params: Type.Object({ id: AdapterId }), response: { 200: Type.Object({ batches: Type.Array(BatchView) }), ...errors } } },
      async (req) => {
        const a = adapters.get(caller(req.caller), req.params.id);
        return { batches: await Promise.all(batches.list(a.key).map((b) => batchView(settler, b))) };
      },
    );

    app.post(
      '/adapters/:id/prove',
      {
        config: { auth: true },
        schema: {
          summary: 'Batch and prove every answer not in a batch yet, now (a short last batch included), and retry the batches whose proof failed',
          params: Type.Object({ id: AdapterId }),
          response: { 202: Type.Object({ batches: Type.Array(BatchView), retried: Type.Integer() }), ...errors },
        },
      },
      async (req, reply) => {
        const a = adapters.get(caller(req.caller), req.params.id);
        if (!registrar.registration(a.key)?.versions.length) throw new ZkpoaError('ZKPOA_ERR_NOT_REGISTERED', `adapter ${req.params.id} is not registered on-chain`);
        const retried = await planner.retryFailed(a.key);
        const planned = await planner.plan(a.key, { flush: true });
        return reply.status(202).send({ batches: await Promise.all(planned.map((b) => batchView(settler, b))), retried });
      },
    );

    app.post(
      '/adapters/:id/settle',
      {
        config: { auth: true },
        schema: {
          summary: 'Settle the adapter’s proven batches in order, one transaction each (fees from the host wallet’s escrow)',
          params: Type.Object({ id: AdapterId }),
          response: {
            200: Type.Object({
              settled: Type.Array(Type.Object({ batch: Type.String(), first: Type.Integer(), count: Type.Integer(), tx: Type.String(), gasUsed: Type.String() })),
              blocked: Type.Optional(Type.Object({ batch: Type.String(), first: Type.Integer(), count: Type.Integer(), status: Type.String(), error: Type.Optional(Type.String()) }, { description: 'the first batch not proven yet: the ones after it wait (receipts settle in order)' })),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const r = await settler.settle(caller(req.caller), req.params.id);
        return { settled: r.settled.map((s) => ({ ...s, gasUsed: s.gasUsed.toString() })), ...(r.blocked ? { blocked: r.blocked } : {}) };
      },
    );
  };
}
