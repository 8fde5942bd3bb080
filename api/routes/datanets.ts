import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DatanetId, ErrorReply, PayeeAddress, SpanMatchReply, caller, errorReplies, wellFormed } from './common.js';
import type { SpanIndexes } from '../span-indexes.js';
import { DATANET_LIMITS, DatanetStore } from '../store/datanets.js';
import type { Db } from '../store/db.js';
import type { TenantLimits } from '../limits.js';

const Record = Type.Object(
  {
    contributor: PayeeAddress,
    text: Type.String({ minLength: 1, maxLength: DATANET_LIMITS.maxRecordBytes }),
    label: Type.Union([Type.Integer({ minimum: 0, maximum: DATANET_LIMITS.maxLabels - 1 }), Type.String({ minLength: 1, maxLength: 100 })], { description: 'the label’s name, or its index in the datanet’s labels' }),
  },
  { additionalProperties: false },
);
const StoredRecord = Type.Object({
  id: Type.Integer(),
  contributor: Type.String(),
  text: Type.String(),
  label: Type.Integer(),
  status: Type.String(),
  contentHash: Type.String(),
  createdAt: Type.String(),
});
const Datanet = Type.Object({
  id: Type.String(),
  ownerHost: Type.Integer(),
  name: Type.String(),
  labels: Type.Array(Type.String()),
  visibility: Type.String(),
  maxRecords: Type.Integer(),
  maxRecordBytes: Type.Integer(),
  createdAt: Type.String(),
});
const Version = Type.Object({ datanetId: Type.String(), version: Type.Integer(), root: Type.String(), records: Type.Integer(), createdAt: Type.String() });
const errors = errorReplies;
const VersionParams = Type.Object({ id: DatanetId, version: Type.String({ pattern: '^[0-9]{1,9}$' }) });

/** `spans`: published versions' span indexes; without them there is no spans route. */
export function datanetRoutes(db: Db, limits: Pick<TenantLimits, 'maxPendingPerContributor'>, spans?: SpanIndexes): FastifyPluginAsyncTypebox {
  const store = new DatanetStore(db, limits.maxPendingPerContributor);
  return async (app) => {
    app.post(
      '/datanets',
      {
        config: { auth: true },
        schema: {
          summary: 'Create a datanet (the caller owns it)',
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 200 }),
              labels: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 2, maxItems: DATANET_LIMITS.maxLabels }),
              visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('owner')])),
              maxRecords: Type.Optional(Type.Integer({ minimum: 1, maximum: DATANET_LIMITS.maxRecords })),
              maxRecordBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: DATANET_LIMITS.maxRecordBytes })),
            },
            { additionalProperties: false },
          ),
          response: { 201: Datanet, ...errors },
        },
      },
      async (req, reply) => {
        wellFormed(req.body.name, 'name');
        req.body.labels.forEach((l, i) => wellFormed(l, `labels[${i}]`));
        return reply.status(201).send(store.create(caller(req.caller), req.body));
      },
    );

    app.get('/datanets', { config: { auth: true }, schema: { summary: 'The datanets the caller owns', response: { 200: Type.Object({ datanets: Type.Array(Datanet) }), ...errors } } }, async (req) => ({
      datanets: store.listOwned(caller(req.caller)),
    }));

    app.get(
      '/datanets/:id/contributors',
      {
        config: { auth: true },
        schema: {
          summary: 'Records per contributor address and status (another host than the owner counts the accepted ones and those it sent)',
          params: Type.Object({ id: DatanetId }),
          response: { 200: Type.Object({ contributors: Type.Array(Type.Object({ contributor: Type.String(), pending: Type.Integer(), accepted: Type.Integer(), rejected: Type.Integer() })) }), ...errors },
        },
      },
      async (req) => ({ contributors: store.contributors(caller(req.caller), req.params.id) }),
    );

    app.get(
      '/datanets/:id/versions',
      { config: { auth: true }, schema: { summary: 'Published versions with their Merkle roots, newest first', params: Type.Object({ id: DatanetId }), response: { 200: Type.Object({ versions: Type.Array(Version) }), ...errors } } },
      async (req) => ({ versions: store.versions(caller(req.caller), req.params.id) }),
    );

    app.get(
      '/datanets/:id',
      { config: { auth: true }, schema: { summary: 'A datanet visible to the caller', params: Type.Object({ id: DatanetId }), response: { 200: Datanet, ...errors } } },
      async (req) => store.get(caller(req.caller), req.params.id),
    );

    app.post(
      '/datanets/:id/records',
      {
        config: { auth: true },
        schema: {
          summary: 'Contribute records (all or none; duplicates by content are refused)',
          params: Type.Object({ id: DatanetId }),
          body: Type.Object({ records: Type.Array(Record, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
          response: { 201: Type.Object({ records: Type.Array(StoredRecord) }), ...errors },
        },
      },
      async (req, reply) => {
        req.body.records.forEach((r, i) => wellFormed(r.text, `records[${i}].text`));
        return reply.status(201).send({ records: store.contribute(caller(req.caller), req.params.id, req.body.records) });
      },
    );

    app.get(
      '/datanets/:id/records',
      {
        config: { auth: true },
        schema: {
          summary: 'Records: all of them for the owner; for another host, the accepted ones and those it sent',
          params: Type.Object({ id: DatanetId }),
          querystring: Type.Object(
            {
              status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('rejected')])),
              offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
              limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ records: Type.Array(StoredRecord) }), ...errors },
        },
      },
      async (req) => ({
        records: store.records(caller(req.caller), req.params.id, {
          ...(req.query.status ? { status: req.query.status } : {}),
          offset: Number(req.query.offset ?? 0),
          limit: Number(req.query.limit ?? 100),
        }),
      }),
    );

    app.delete(
      '/datanets/:id/records',
      {
        config: { auth: true },
        schema: {
          summary: 'Purge the rejected records that no published version holds (owner only)',
          params: Type.Object({ id: DatanetId }),
          querystring: Type.Object({ status: Type.Literal('rejected') }, { additionalProperties: false }),
          response: { 200: Type.Object({ purged: Type.Integer() }), ...errors },
        },
      },
      async (req) => ({ purged: store.purgeRejected(caller(req.caller), req.params.id) }),
    );

    app.post(
      '/datanets/:id/records/:recordId/review',
      {
        config: { auth: true },
        schema: {
          summary: 'Accept or reject a record (owner only)',
          params: Type.Object({ id: DatanetId, recordId: Type.String({ pattern: '^[0-9]{1,15}$' }) }),
          body: Type.Object({ decision: Type.Union([Type.Literal('accept'), Type.Literal('reject')]) }, { additionalProperties: false }),
          response: { 200: StoredRecord, ...errors },
        },
      },
      async (req) => store.review(caller(req.caller), req.params.id, Number(req.params.recordId), req.body.decision),
    );

    app.post(
      '/datanets/:id/reviews',
      {
        config: { auth: true },
        schema: {
          summary: 'Accept or reject many records at once (owner only; all of them, or none if one is not in the datanet)',
          params: Type.Object({ id: DatanetId }),
          body: Type.Object(
            { decision: Type.Union([Type.Literal('accept'), Type.Literal('reject')]), records: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 10_000, uniqueItems: true }) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ reviewed: Type.Integer() }), ...errors },
        },
      },
      async (req) => ({ reviewed: store.reviewMany(caller(req.caller), req.params.id, req.body.records, req.body.decision) }),
    );

    app.post(
      '/datanets/:id/versions',
      {
        config: { auth: true },
        schema: { summary: 'Publish the accepted records as a new version (owner only)', params: Type.Object({ id: DatanetId }), response: { 201: Version, ...errors } },
      },
      async (req, reply) => {
        const v = store.publish(caller(req.caller), req.params.id);
        spans?.build(caller(req.caller), req.params.id, v.version);
        return reply.status(201).send(v);
      },
    );

    if (spans) {
      app.post(
        '/datanets/:id/versions/:version/spans',
        {
          config: { auth: true },
          schema: {
            summary: 'A text’s spans found verbatim in a version’s records (cl100k_base tokens, at least minTokens long), with where they occur and each contributor’s credit',
            params: VersionParams,
            body: Type.Object(
              {
                text: Type.String({ minLength: 1, maxLength: 20_000 }),
                minTokens: Type.Optional(Type.Integer({ minimum: 4, maximum: 256, default: 8, description: 'at least 4: shorter spans are common phrases, and each one found costs a lookup of its occurrences' })),
                maxOccurrences: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 16, description: 'occurrences listed per span (all are credited)' })),
              },
              { additionalProperties: false },
            ),
            response: {
              200: SpanMatchReply,
              503: ErrorReply,
              ...errors,
            },
          },
        },
        async (req) => {
          wellFormed(req.body.text, 'text');
          return spans.find(caller(req.caller), req.params.id, Number(req.params.version), req.body.text, { ...(req.body.minTokens ? { minTokens: req.body.minTokens } : {}), ...(req.body.maxOccurrences ? { maxOccurrences: req.body.maxOccurrences } : {}) });
        },
      );
    }

    app.get(
      '/datanets/:id/versions/:version',
      {
        config: { auth: true },
        schema: {
          summary: 'A published version and its Merkle root',
          params: VersionParams,
          response: { 200: Version, ...errors },
        },
      },
      async (req) => {
        const { recordIds: _ids, ...v } = store.version(caller(req.caller), req.params.id, Number(req.params.version));
        return v;
      },
    );
  };
}
