import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Ledgers } from '../ledger.js';
import { PayeeAddress, errorReplies } from './common.js';

const Wei = Type.String({ description: 'wei, as a decimal string' });

/** Public (no API key): where an address is paid, with the Merkle paths its claims carry, and how its earnings grew. */
export function ledgerRoutes(ledgers: Ledgers): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/ledger/:address',
      {
        schema: {
          summary: 'Every payout ledger leaf that pays an address: cumulative amount after the last settled batch, and its Merkle path to the on-chain root',
          security: [],
          params: Type.Object({ address: PayeeAddress }),
          response: {
            200: Type.Object({
              positions: Type.Array(Type.Object({ adapterId: Type.String(), version: Type.Integer(), leaf: Type.Integer(), payee: Type.String(), cumulative: Type.String(), siblings: Type.Array(Type.String()), root: Type.String() })),
            }),
            ...errorReplies,
          },
        },
      },
      async (req) => ({
        positions: (await ledgers.positions(req.params.address)).map((p) => ({
          ...p,
          adapterId: p.adapterId.toString(),
          cumulative: p.cumulative.toString(),
          siblings: p.siblings.map(String),
          root: p.root.toString(),
        })),
      }),
    );

    app.get(
      '/earnings/:address',
      {
        schema: {
          summary: 'What an address earned, per adapter version: claimed on-chain and unclaimed, every settled batch, and its share of each answer (the latest 1,000)',
          security: [],
          params: Type.Object({ address: PayeeAddress }),
          response: {
            200: Type.Object({
              positions: Type.Array(
                Type.Object({
                  adapterId: Type.String(),
                  version: Type.Integer(),
                  leaf: Type.Integer(),
                  cumulative: Wei,
                  claimed: Type.Optional(Type.String({ description: 'wei claimed on-chain (left out when the chain cannot be read now)' })),
                  batches: Type.Array(Type.Object({ first: Type.Integer(), count: Type.Integer(), payout: Wei, cumulative: Wei, tx: Type.String(), settledAt: Type.Optional(Type.String()) })),
                  answers: Type.Array(Type.Object({ number: Type.Integer(), share: Wei })),
                }),
              ),
            }),
            ...errorReplies,
          },
        },
      },
      async (req) => ({
        positions: await Promise.all(
          ledgers.history(req.params.address).map(async (p) => {
            const claimed = await ledgers.claimed(p.adapterId, p.version, p.leaf);
            return {
              adapterId: p.adapterId.toString(),
              version: p.version,
              leaf: p.leaf,
              cumulative: p.cumulative.toString(),
              ...(claimed !== undefined ? { claimed: claimed.toString() } : {}),
              batches: p.batches.map((b) => ({ ...b, payout: b.payout.toString(), cumulative: b.cumulative.toString() })),
              answers: p.answers.map((a) => ({ number: a.number, share: a.share.toString() })),
            };
          }),
        ),
      }),
    );
  };
}
