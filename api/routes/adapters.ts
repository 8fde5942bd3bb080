import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AdapterId, DatanetId, caller, errorReplies } from './common.js';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Batcher } from '../../inference/batcher.js';
import { FINETUNE_JOB, type FineTuneJobPayload } from '../finetune-runner.js';
import { AdapterRegistryStore } from '../store/adapters.js';
import { DatanetStore } from '../store/datanets.js';
import type { Db } from '../store/db.js';
import type { JobQueue } from '../store/jobs.js';

const errors = errorReplies;
const Adapter = Type.Object({
  id: Type.String(),
  datanetId: Type.String(),
  datanetVersion: Type.Integer(),
  status: Type.String(),
  jobId: Type.String(),
  createdAt: Type.String(),
  job: Type.Optional(Type.Object({ status: Type.String(), progress: Type.Optional(Type.Number()), error: Type.Optional(Type.String()) })),
});

export function adapterRoutes(db: Db, queue: JobQueue, batcher: Batcher): FastifyPluginAsyncTypebox {
  const adapters = new AdapterRegistryStore(db);
  const datanets = new DatanetStore(db);
  const withJob = async (a: ReturnType<AdapterRegistryStore['get']>) => {
    const j = await queue.get(a.jobId);
    const { spec: _spec, ownerHost: _owner, ...rest } = a;
    return { ...rest, ...(j ? { job: { status: j.status, ...(j.progress !== undefined ? { progress: j.progress } : {}), ...(j.error ? { error: j.error } : {}) } } : {}) };
  };

  return async (app) => {
    app.post(
      '/adapters',
      {
        config: { auth: true },
        schema: {
          summary: 'Fine-tune an adapter on a datanet version (async job; no code)',
          body: Type.Object(
            {
              id: AdapterId,
              datanetId: DatanetId,
              version: Type.Integer({ minimum: 1 }),
              seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
              hyper: Type.Optional(
                Type.Object(
                  {
                    optimizer: Type.Optional(Type.Union([Type.Literal('adam'), Type.Literal('lbfgs')])),
                    iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
                    rank: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
                    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1024 })),
                    learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
                    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
                    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
                    weightDecay: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 202: Adapter, ...errors },
        },
      },
      async (req, reply) => {
        const host = caller(req.caller);
        datanets.version(host, req.body.datanetId, req.body.version); // visible and published, or 404
        const payload: FineTuneJobPayload = { hostId: host.id, adapterId: req.body.id, datanetId: req.body.datanetId, version: req.body.version, ...(req.body.hyper ? { hyper: req.body.hyper } : {}), ...(req.body.seed !== undefined ? { seed: req.body.seed } : {}) };
        if (await queue.byKey(FINETUNE_JOB, req.body.id)) throw new ZkpoaError('ZKPOA_ERR_CONFLICT', `adapter ${req.body.id} already exists`);
        // the caller's own create that was interrupted before its job was queued: start over
        if (adapters.ownerOf(req.body.id) === host.id && adapters.get(host, req.body.id).jobId === '') adapters.remove(req.body.id);
        // the row first: it is the ownership record the runner checks, and its primary key settles a race for the id
        const a = adapters.create(host, { id: req.body.id, datanetId: req.body.datanetId, datanetVersion: req.body.version, jobId: '', spec: { hyper: req.body.hyper ?? {}, seed: req.body.seed ?? 1 } });
        let job;
        try {
          job = await queue.enqueue(FINETUNE_JOB, req.body.id, payload);
        } catch (err) {
          adapters.remove(a.id);
          throw err;
        }
        adapters.setJob(a.id, job.id);
        return reply.status(202).send(await withJob({ ...a, jobId: job.id }));
      },
    );

    app.get('/adapters', { config: { auth: true }, schema: { summary: 'The caller’s adapters', response: { 200: Type.Object({ adapters: Type.Array(Adapter) }), ...errors } } }, async (req) => ({
      adapters: await Promise.all(adapters.list(caller(req.caller)).map(withJob)),
    }));

    app.get(
      '/adapters/:id',
      { config: { auth: true }, schema: { summary: 'An adapter and its fine-tuning job', params: Type.Object({ id: AdapterId }), response: { 200: Adapter, ...errors } } },
      async (req) => withJob(adapters.get(caller(req.caller), req.params.id)),
    );

    app.post(
      '/infer',
      {
        config: { auth: true },
        schema: {
          summary: 'Answers for one or many inputs on any of the caller’s adapters (batched underneath); each answer gets a receipt',
          body: Type.Object(
            { requests: Type.Array(Type.Object({ adapter: AdapterId, text: Type.String({ minLength: 1, maxLength: 100_000 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 64 }) },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Object({
              results: Type.Array(
                Type.Union([
                  Type.Object({ adapter: Type.String(), label: Type.String(), probabilities: Type.Array(Type.Number()), receipt: Type.String(), batchSize: Type.Integer() }),
                  Type.Object({ adapter: Type.String(), error: Type.Object({ code: Type.String(), message: Type.String() }) }),
                ]),
              ),
            }),
            ...errors,
          },
        },
      },
      async (req) => {
        const host = caller(req.caller);
        const results = await Promise.all(
          req.body.requests.map(async (r) => {
            try {
              const a = adapters.get(host, r.adapter);
              if (a.status !== 'ready') throw new ZkpoaError('ZKPOA_ERR_CONFLICT', `adapter ${r.adapter} is ${a.status}`);
              const out = await batcher.infer({ adapterId: r.adapter, text: r.text });
              const receipt = adapters.addReceipt(host, r.adapter, r.text, { label: out.label, probabilities: out.probabilities });
              return { adapter: r.adapter, label: out.label, probabilities: out.probabilities, receipt: receipt.id, batchSize: out.batchSize };
            } catch (err) {
              if (!(err instanceof ZkpoaError)) throw err;
              return { adapter: r.adapter, error: { code: err.code, message: err.message } };
            }
          }),
        );
        return { results };
      },
    );

    app.get(
      '/jobs/:id',
      {
        config: { auth: true },
        schema: { summary: 'A job of the caller', params: Type.Object({ id: Type.String({ pattern: '^job_[0-9a-f-]{36}$' }) }), response: { 200: Type.Object({ id: Type.String(), kind: Type.String(), status: Type.String(), attempts: Type.Integer(), progress: Type.Optional(Type.Number()), error: Type.Optional(Type.String()) }), ...errors } },
      },
      async (req) => {
        const j = await queue.get(req.params.id);
        if (!j || (j.payload as { hostId?: number }).hostId !== caller(req.caller).id) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `no job ${req.params.id}`);
        return { id: j.id, kind: j.kind, status: j.status, attempts: j.attempts, ...(j.progress !== undefined ? { progress: j.progress } : {}), ...(j.error ? { error: j.error } : {}) };
      },
    );
  };
}
