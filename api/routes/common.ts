import { Type } from '@fastify/type-provider-typebox';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Host } from '../store/hosts.js';

/** What every route shares: the error body, the usual error replies, the caller. */
export const ErrorReply = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
export const errorReplies = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 409: ErrorReply, 413: ErrorReply };
export const AdapterId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' });
export const DatanetId = Type.String({ pattern: '^dn_[0-9a-f-]{36}$' });
// not the zero address: the registry refuses it as a payee, which would block every adapter trained on the datanet
export const PayeeAddress = Type.String({ pattern: '^0x(?!0{40}$)[0-9a-fA-F]{40}$', description: 'payout address of a contributor (not the zero address)' });

/** The authenticated host; the auth hook sets it on every route that declares `config.auth`. */
export const caller = (h: Host | undefined): Host => h!;

/** Lone UTF-16 surrogates cannot be stored faithfully as UTF-8: refuse them. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export function wellFormed(s: string, what: string): void {
  if (LONE_SURROGATE.test(s)) throw new ZkpoaError('ZKPOA_ERR_VALIDATION', `${what} contains an unpaired UTF-16 surrogate`);
}

/** A text's spans found verbatim in a datanet version's records (inference/spans.ts SpanMatch). */
export const SpanMatchReply = Type.Object({
  tokens: Type.Integer(),
  spans: Type.Array(
    Type.Object({
      start: Type.Integer(),
      end: Type.Integer(),
      text: Type.String(),
      count: Type.Integer(),
      occurrences: Type.Array(Type.Object({ record: Type.Integer(), contributor: Type.String(), offset: Type.Integer({ description: 'the span’s first token in the record' }) })),
      contributors: Type.Array(Type.String()),
    }),
  ),
  credit: Type.Record(Type.String(), Type.Number(), { description: 'answer tokens credited per contributor' }),
});
