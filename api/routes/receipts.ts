import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AdapterId, caller, errorReplies } from './common.js';
import type { VerificationKey } from 'snarkjs';
import type { Batcher } from '../../inference/batcher.js';
import type { ReceiptService } from '../receipts.js';

const errors = errorReplies;
const ReceiptId = Type.String({ pattern: '^rc_[0-9a-f-]{36}$' });
const Wei = Type.String({ pattern: '^[0-9]{1,25}$', description: 'an amount of OPEN in wei, as a decimal string' });
const Bps = Type.Integer({ minimum: 0, maximum: 10_000 });

export function receiptRoutes(service: ReceiptService, audit?: { batcher: Batcher; vkeyOf: (variant: string) => Promise<VerificationKey> }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/adapters/:id/register',
      {
        config: { auth: true },
        schema: {
          summary: 'Register the adapter and its attribution index on-chain with a price and fee shares',
          params: Type.Object({ id: AdapterId }),
          body: Type.Object({ price: Wei, ownerBps: Bps, protocolBps: Bps, poolBps: Bps }, { additionalProperties: false }),
          response: { 201: Type.Record(Type.String(), Type.Unknown()), ...errors },
        },
      },
      async (req, reply) => reply.status(201).send({ ...(await service.register(caller(req.caller), req.params.id, { ...req.body, price: BigInt(req.body.price) })) }),
    );

    app.post(
      '/receipts/:id/proof',
      { config: { auth: true }, schema: { summary: 'Prove a receipt’s split (async job)', params: Type.Object({ id: ReceiptId }), response: { 202: Type.Record(Type.String(), Type.Unknown()), ...errors } } },
      async (req, reply) => {
        const job = await service.requestProof(caller(req.caller), req.params.id);
        return reply.status(202).send({ job: { id: job.id, status: job.status } });
      },
    );

    app.get(
      '/receipts/:id/proof',
      { config: { auth: true }, schema: { summary: 'The proof, public signals and settle calldata of a receipt', params: Type.Object({ id: ReceiptId }), response: { 200: Type.Record(Type.String(), Type.Unknown()), ...errors } } },
      async (req) => service.proofOf(caller(req.caller), req.params.id),
    );

    if (audit) {
      app.post(
        '/audit/:id',
        {
          config: { auth: true },
          schema: { summary: 'Replay a receipt: answer, features, split, proof and settlement, each checked', params: Type.Object({ id: ReceiptId }), response: { 200: Type.Record(Type.String(), Type.Unknown()), ...errors } },
        },
        async (req) => {
          const host = caller(req.caller);
          return service.audit(host, req.params.id, { batcher: audit.batcher, vkey: await audit.vkeyOf(service.variantOfReceipt(host, req.params.id)) });
        },
      );
    }

    app.post(
      '/receipts/:id/settle',
      { config: { auth: true }, schema: { summary: 'Settle a proven receipt on-chain', params: Type.Object({ id: ReceiptId }), response: { 200: Type.Object({ tx: Type.String(), gasUsed: Type.String() }), ...errors } } },
      async (req) => {
        const host = caller(req.caller);
        // with the server's verification key, a proof made with other keys is caught here, not as an on-chain revert
        return service.settle(host, req.params.id, audit ? { vkey: await audit.vkeyOf(service.variantOfReceipt(host, req.params.id)) } : {});
      },
    );
  };
}
