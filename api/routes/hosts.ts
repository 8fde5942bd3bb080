import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Registrar } from '../registration.js';
import type { Db } from '../store/db.js';
import { linkWallet } from '../store/hosts.js';
import { caller, errorReplies } from './common.js';

const Address = Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' });
const Chain = Type.Object({ chainId: Type.String(), settlement: Type.String(), operator: Type.String() });
const HostView = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  wallet: Type.Optional(Type.String()),
  /** the chain this server settles on and the operator wallet a host approves there */
  chain: Type.Optional(Chain),
  /** on-chain state of the linked wallet */
  escrow: Type.Optional(Type.Object({ balance: Type.String(), operatorApproved: Type.Boolean() })),
});

/** The caller's own account: who it is, and the wallet whose escrow pays its fees. */
export function hostRoutes(db: Db, registrar?: Registrar): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/host', { config: { auth: true }, schema: { summary: 'The calling host, its wallet and its escrow', response: { 200: HostView, ...errorReplies } } }, async (req) => {
      const host = caller(req.caller);
      const chain = await registrar?.chainInfo();
      const escrow = chain && host.wallet ? await registrar!.escrowOf(host.wallet) : undefined;
      return { id: host.id, name: host.name, ...(host.wallet ? { wallet: host.wallet } : {}), ...(chain ? { chain } : {}), ...(escrow ? { escrow } : {}) };
    });

    app.put(
      '/host/wallet',
      {
        config: { auth: true },
        schema: {
          summary: 'Link the wallet whose escrow pays the caller’s fees: it signs (EIP-191) the wallet-link message for this host, chain and settlement contract',
          body: Type.Object({ wallet: Address, signature: Type.String({ pattern: '^0x[0-9a-fA-F]{130}$' }) }, { additionalProperties: false }),
          response: { 200: HostView, ...errorReplies },
        },
      },
      async (req) => {
        const chain = await registrar?.chainInfo();
        if (!chain) throw new ZkpoaError('ZKPOA_ERR_NO_CHAIN', 'this server has no chain configured');
        const host = linkWallet(db, caller(req.caller), { ...req.body, chainId: chain.chainId, settlement: chain.settlement });
        return { id: host.id, name: host.name, wallet: host.wallet!, chain, escrow: await registrar!.escrowOf(host.wallet!) };
      },
    );
  };
}
