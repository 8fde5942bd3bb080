import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AdapterId, DatanetId, caller, errorReplies } from './common.js';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Batcher } from '../../inference/batcher.js';
import { loadAdapterIndex } from '../attribution-service.js';
import { FINETUNE_JOB, type FineTuneJobPayload } from '../finetune-runner.js';
import type { TenantLimits } from '../limits.js';
import type { Registrar } from '../registration.js';
import { AdapterRegistryStore, adapterKey, type AdapterModel, type AdapterRow } from '../store/adapters.js';
import { ReceiptStore } from '../store/receipts.js';
import { DatanetStore } from '../store/datanets.js';
import type { Db } from '../store/db.js';
import type { JobQueue } from '../store/jobs.js';

const errors = errorReplies;
const Adapter = Type.Object({
  id: Type.String(),
  datanetId: Type.String(),
  datanetVersion: Type.Integer(),
  model: Type.Union([Type.Literal('classifier'), Type.Literal('causal-lm')]),
  status: Type.String(),
  jobId: Type.String(),
  createdAt: Type.String(),
  job: Type.Optional(Type.Object({ status: Type.String(), progress: Type.Optional(Type.Number()), error: Type.Optional(Type.String()) })),
  index: Type.Optional(Type.Object({ root: Type.String(), contributors: Type.Integer(), variant: Type.String(), estimator: Type.String(), curvature: Type.Optional(Type.String()) })),
  onchain: Type.Optional(Type.Object({ adapterId: Type.String(), version: Type.Integer(), hostWallet: Type.String(), price: Type.String(), tx: Type.String() })),
  answers: Type.Integer({ description: 'answers served (the next answer’s receipt number)' }),
});

/** The hyper-parameters each model's fine-tuning takes (the classifier's: inference/train.ts; the language model's: inference/lm-lora.ts). */
const HYPER_OF: Record<AdapterModel, readonly string[]> = {
  classifier: ['optimizer', 'iterations', 'rank', 'alpha', 'learningRate', 'epochs', 'batchSize', 'weightDecay'],
  'causal-lm': ['rank', 'alpha', 'learningRate', 'steps', 'batchSize'],
};

/** `generative`: the service has a language model, so adapters of it may be fine-tuned. */
export function adapterRoutes(db: Db, queue: JobQueue, batcher: Batcher, limits: TenantLimits, registrar?: Registrar, generative = false): FastifyPluginAsyncTypebox {
  const adapters = new AdapterRegistryStore(db);
  const receipts = new ReceiptStore(db);
  const datanets = new DatanetStore(db);
  const training = db.prepare("SELECT COUNT(*) n FROM adapters WHERE owner_host = ? AND status = 'training'");
  /** An adapter as its host sees it: its job, its index and its on-chain registration. */
  const view = async (a: AdapterRow) => {
    const j = await queue.get(a.jobId);
    const { spec: _spec, ownerHost: _owner, key, ...rest } = a;
    const stored = loadAdapterIndex(db, key);
    const reg = registrar?.registration(key);
    const current = reg?.versions.at(-1);
    return {
      ...rest,
      ...(j ? { job: { status: j.status, ...(j.progress !== undefined ? { progress: j.progress } : {}), ...(j.error ? { error: j.error } : {}) } } : {}),
      ...(stored
        ? { index: { root: '0x' + stored.index.root.toString(16), contributors: stored.index.contributors.length, variant: stored.variant, estimator: stored.index.estimator ?? 'tracin-cp', ...(stored.index.curvature ? { curvature: stored.index.curvature } : {}) } }
        : {}),
      ...(reg && current ? { onchain: { adapterId: reg.onchainId.toString(), version: current.version, hostWallet: reg.hostWallet, price: current.price.toString(), tx: reg.tx } } : {}),
      answers: receipts.nextNumber(key),
    };
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
              model: Type.Optional(Type.Union([Type.Literal('classifier'), Type.Literal('causal-lm')], { default: 'classifier', description: 'the classifier (answers with a label) or the language model (generates text)' })),
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
                    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'the language model’s optimizer steps' })),
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
        const model = req.body.model ?? 'classifier';
        if (model === 'causal-lm' && !generative) throw new ZkpoaError('ZKPOA_ERR_VALIDATION', "this service has no language model: model must be 'classifier'");
        const foreign = Object.keys(req.body.hyper ?? {}).filter((k) => !HYPER_OF[model].includes(k));
        if (foreign.length) throw new ZkpoaError('ZKPOA_ERR_VALIDATION', `hyper.${foreign[0]} is not a ${model} fine-tuning parameter (those are ${HYPER_OF[model].join(', ')})`);
        if (model === 'causal-lm' && (req.body.hyper?.batchSize ?? 0) > 1024) throw new ZkpoaError('ZKPOA_ERR_VALIDATION', 'hyper.batchSize of a causal-lm adapter is at most 1024 windows');
        datanets.version(host, req.body.datanetId, req.body.version); // visible and published, or 404
        // ids are the host's own: another host's adapter of the same id is neither seen nor in the way
        const key = adapterKey(host, req.body.id);
        const payload: FineTuneJobPayload = { hostId: host.id, adapterId: key, datanetId: req.body.datanetId, version: req.body.version, model, ...(req.body.hyper ? { hyper: req.body.hyper } : {}), ...(req.body.seed !== undefined ? { seed: req.body.seed } : {}) };
        if (await queue.byKey(FINETUNE_JOB, key)) throw new ZkpoaError('ZKPOA_ERR_ADAPTER_EXISTS', `adapter ${req.body.id} already exists`);
        // the caller's own create that was interrupted before its job was queued: start over
        if (adapters.byKey(key)?.jobId === '') adapters.remove(key);
        const queued = (training.get(host.id) as { n: number }).n;
        if (queued >= limits.maxFineTuneJobs) throw new ZkpoaError('ZKPOA_ERR_FINETUNE_QUOTA', `host ${host.id} has ${queued} fine-tuning jobs queued or running; at most ${limits.maxFineTuneJobs} at once`);
        // the row first: it is the ownership record the runner checks, and its primary key settles a race for the id
        const a = adapters.create(host, { id: req.body.id, datanetId: req.body.datanetId, datanetVersion: req.body.version, model, jobId: '', spec: { hyper: req.body.hyper ?? {}, seed: req.body.seed ?? 1 } });
        let job;
        try {
          job = await queue.enqueue(FINETUNE_JOB, key, payload);
        } catch (err) {
          adapters.remove(key);
          throw err;
        }
        adapters.setJob(key, job.id);
        return reply.status(202).send(await view({ ...a, jobId: job.id }));
      },
    );

    app.get('/adapters', { config: { auth: true }, schema: { summary: 'The caller’s adapters', response: { 200: Type.Object({ adapters: Type.Array(Adapter) }), ...errors } } }, async (req) => ({
      adapters: await Promise.all(adapters.list(caller(req.caller)).map(view)),
    }));

    app.get(
      '/adapters/:id',
      { config: { auth: true }, schema: { summary: 'An adapter and its fine-tuning job', params: Type.Object({ id: AdapterId }), response: { 200: Adapter, ...errors } } },
      async (req) => view(adapters.get(caller(req.caller), req.params.id)),
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
                  Type.Object({ adapter: Type.String(), label: Type.String(), probabilities: Type.Array(Type.Number()), receipt: Type.String(), number: Type.Integer({ description: 'the answer’s number in its adapter’s sequence' }), batchSize: Type.Integer() }),
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
        // refused before any work if the answers could not be stored; the insert below is the authority
        const stored = receipts.count(host);
        if (stored + req.body.requests.length > limits.maxStoredAnswers) throw new ZkpoaError('ZKPOA_ERR_INPUT_QUOTA', `host ${host.id} stores ${stored} answers and may store at most ${limits.maxStoredAnswers}`);
        type Outcome = { adapter: AdapterRow; text: string; out: Awaited<ReturnType<Batcher['infer']>> } | { adapter: string; error: { code: string; message: string } };
        const outcomes = await Promise.all(
          req.body.requests.map(async (r): Promise<Outcome> => {
            try {
              const a = adapters.get(host, r.adapter);
              if (a.model !== 'classifier') throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${r.adapter} is a language model's: ask it with POST /v1/generate`);
              if (a.status !== 'ready') throw new ZkpoaError('ZKPOA_ERR_ADAPTER_NOT_READY', `adapter ${r.adapter} is ${a.status}`);
              return { adapter: a, text: r.text, out: await batcher.infer({ adapterId: a.key, text: r.text }) };
            } catch (err) {
              if (!(err instanceof ZkpoaError)) throw err;
              return { adapter: r.adapter, error: { code: err.code, message: err.message } };
            }
          }),
        );
        const answered = outcomes.filter((o): o is Extract<Outcome, { out: unknown }> => 'out' in o);
        const receiptsOf = receipts.add(host, answered.map((o) => ({ adapter: o.adapter, input: o.text, output: { label: o.out.label, probabilities: o.out.probabilities } })), limits.maxStoredAnswers);
        let next = 0;
        return {
          results: outcomes.map((o) => {
            if (!('out' in o)) return o;
            const r = receiptsOf[next++]!;
            return { adapter: o.adapter.id, label: o.out.label, probabilities: o.out.probabilities, receipt: r.id, number: r.number, batchSize: o.out.batchSize };
          }),
        };
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
