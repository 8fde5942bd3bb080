import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Ledgers } from '../ledger.js';
import { errorReplies } from './common.js';

/** Public (no API key): where an address is paid, with the Merkle paths its claims carry. */
export function ledgerRoutes(ledgers: Ledgers): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/ledger/:address',
      {
        schema: {
          summary: 'Every payout ledger leaf that pays an address: cumulative amount after the last settled batch, and its Merkle path to the on-chain root',
          security: [],
          params: Type.Object({ address: Type.String({ pattern: '^0x(?!0{40}$)[0-9a-fA-F]{40}$' }) }),
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
  };
}
