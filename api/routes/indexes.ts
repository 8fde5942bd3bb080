import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from '../store/db.js';
import { PublishedLeavesStore } from '../store/published-leaves.js';
import { errorReplies } from './common.js';

/**
 * Public (no API key): an index's leaves under the content hash the registry records for a
 * version (its IndexPublished event), so that anyone recomputes the hash and, with the C and K
 * of the adapter's on-chain variant, the index root.
 */
export function indexRoutes(db: Db): FastifyPluginAsyncTypebox {
  const published = new PublishedLeavesStore(db);
  return async (app) => {
    app.get(
      '/indexes/:leavesHash',
      {
        schema: {
          summary: 'The leaves (payees and packed features) published under a leavesHash: keccak256(abi.encode(payees, featureChunks))',
          security: [],
          params: Type.Object({ leavesHash: Type.String({ pattern: '^0x[0-9a-fA-F]{64}$' }) }),
          response: {
            200: Type.Object({ leavesHash: Type.String(), payees: Type.Array(Type.String()), featureChunks: Type.Array(Type.String()) }),
            ...errorReplies,
          },
        },
      },
      async (req) => {
        const p = published.get(req.params.leavesHash);
        if (!p) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `no index leaves are published here under ${req.params.leavesHash}`);
        return { leavesHash: p.leavesHash, payees: p.payees, featureChunks: p.featureChunks.map(String) };
      },
    );
  };
}
