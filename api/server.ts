import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Registry, collectDefaultMetrics, Counter } from 'prom-client';
import { ZkpoaError, type ErrorCode } from '../attribution/errors.js';
import type { VerificationKey } from 'snarkjs';
import type { Batcher } from '../inference/batcher.js';
import type { LmServing } from '../inference/lm-serving.js';
import type { Auditor } from './audit.js';
import type { BatchPlanner } from './batching.js';
import type { Ledgers } from './ledger.js';
import type { Registrar } from './registration.js';
import type { Settler } from './settlement.js';
import { AuthThrottle } from './auth-throttle.js';
import { tenantLimits, type TenantLimits } from './limits.js';
import { adapterRoutes } from './routes/adapters.js';
import { datanetRoutes } from './routes/datanets.js';
import { generationRoutes } from './routes/generate.js';
import { SpanIndexes } from './span-indexes.js';
import { DatanetStore } from './store/datanets.js';
import { hostRoutes } from './routes/hosts.js';
import { indexRoutes } from './routes/indexes.js';
import { overviewRoutes } from './routes/overview.js';
import { ledgerRoutes } from './routes/ledger.js';
import { onchainRoutes } from './routes/onchain.js';
import { receiptRoutes } from './routes/receipts.js';
import type { JobQueue } from './store/jobs.js';
import { schemaVersion, type Db } from './store/db.js';
import { authenticate, type Host } from './store/hosts.js';

/**
 * The HTTP API: fastify with TypeBox schemas (validation, types and the OpenAPI
 * document at /docs from one schema), API-key authentication for /v1, body size and
 * rate limits, security headers, and one error shape for every failure:
 * `{ "error": { "code": "ZKPOA_ERR_…", "message": "…" } }` — never a stack trace.
 */
export interface ServerOptions {
  db: Db;
  /** serving and fine-tuning; without it the adapter and inference routes are absent; with `lm`, language-model adapters and generation too */
  inference?: { batcher: Batcher; queue: JobQueue; lm?: LmServing };
  /** registration, batches of proofs, settlement, audit and the payout ledgers */
  attribution?: { registrar: Registrar; planner: BatchPlanner; settler: Settler; auditor: Auditor; ledgers: Ledgers; vkey: (variantName: string) => Promise<VerificationKey> };
  /** extra facts for /health (tensor backend, chain, prover pool) */
  health?: () => Record<string, unknown>;
  logger?: FastifyServerOptions['logger'];
  /** bytes (default 1 MiB) */
  bodyLimit?: number;
  /** the dashboard's built assets (api/web/build.ts), served at / */
  dashboard?: string;
  /** what one tenant may take (api/limits.ts) */
  limits?: Partial<TenantLimits>;
  /** where published datanet versions' span indexes are kept; without it there are none */
  spansDir?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Host;
  }
  interface FastifyContextConfig {
    /** the route needs an authenticated host */
    auth?: boolean;
  }
}

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  TypeBoxTypeProvider
>;

const errorBody = (code: ErrorCode, message: string) => ({ error: { code, message } });

function bearer(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer (\S+)$/.exec(header);
  return m?.[1];
}

export async function buildServer(opts: ServerOptions): Promise<App> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // bodies are validated as sent: no silent type coercion, no dropped fields
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const requests = new Counter({ name: 'zkpoa_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [metrics] });

  const limits = tenantLimits(opts.limits);
  // helmet's CSP, less upgrade-insecure-requests: a dashboard served over plain HTTP on a LAN address (TLS belongs to a proxy in front) would otherwise fetch its own scripts over HTTPS
  await app.register(helmet, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  // After authentication (onRequest): a host's budget is spent only by requests its key
  // authenticated, never by whoever writes its id into a header; others count per address.
  await app.register(rateLimit, {
    hook: 'preParsing',
    max: limits.requestsPerMinute,
    timeWindow: '1 minute',
    keyGenerator: (req) => (req.caller ? `host:${req.caller.id}` : `address:${req.ip}`),
    errorResponseBuilder: (_req, ctx) => new ZkpoaError('ZKPOA_ERR_RATE_LIMITED', `rate limit of ${ctx.max} requests per ${ctx.after} exceeded`),
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'zkpoa', version: '0.1.0', description: 'Proof of Attribution: datanets, adapters, inference, proofs, settlement, audit' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  if (opts.dashboard) await app.register(fastifyStatic, { root: opts.dashboard, prefix: '/', index: 'index.html', schemaHide: true });

  const throttle = new AuthThrottle(limits.failedAuthPerMinute);
  app.addHook('onRequest', async (req, reply) => {
    if (!req.routeOptions.config?.auth) return;
    if (throttle.throttled(req.ip)) {
      void reply.header('retry-after', String(throttle.retryAfter(req.ip)));
      throw new ZkpoaError('ZKPOA_ERR_AUTH_THROTTLED', `too many failed authentications from this address; try again in ${throttle.retryAfter(req.ip)} s`);
    }
    const host = authenticate(opts.db, bearer(req.headers.authorization));
    if (!host) {
      throttle.failed(req.ip);
      throw new ZkpoaError('ZKPOA_ERR_UNAUTHORIZED', 'a valid API key is required (Authorization: Bearer zk_…)');
    }
    req.caller = host;
  });
  app.addHook('onResponse', async (req, reply) => {
    requests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });

  app.setErrorHandler((err: FastifyError | ZkpoaError, req, reply) => {
    if (err instanceof ZkpoaError) return reply.status(err.statusCode).send(errorBody(err.code, err.message));
    const fe = err as FastifyError;
    if (fe.validation) return reply.status(400).send(errorBody('ZKPOA_ERR_VALIDATION', `${fe.validationContext ?? 'request'} ${fe.validation[0]?.instancePath ?? ''} ${fe.validation[0]?.message ?? 'is invalid'}`.replace(/\s+/g, ' ').trim()));
    const status = fe.statusCode ?? 500;
    if (status === 413) return reply.status(413).send(errorBody('ZKPOA_ERR_BODY_TOO_LARGE', 'request body too large'));
    if (status === 429) return reply.status(429).send(errorBody('ZKPOA_ERR_RATE_LIMITED', fe.message));
    if (status >= 400 && status < 500) return reply.status(status).send(errorBody('ZKPOA_ERR_MALFORMED_REQUEST', fe.message));
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('ZKPOA_ERR_INTERNAL', 'internal error'));
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody('ZKPOA_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));

  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok', db: { schemaVersion: schemaVersion(opts.db) }, ...(opts.health?.() ?? {}) }));
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  const a = opts.attribution;
  await app.register(hostRoutes(opts.db, a?.registrar), { prefix: '/v1' });
  const spans = opts.spansDir ? new SpanIndexes(new DatanetStore(opts.db), opts.spansDir) : undefined;
  app.addHook('onClose', async () => spans?.close());
  await app.register(datanetRoutes(opts.db, limits, spans), { prefix: '/v1' });
  if (opts.inference) await app.register(adapterRoutes(opts.db, opts.inference.queue, opts.inference.batcher, limits, a?.registrar, opts.inference.lm !== undefined), { prefix: '/v1' });
  if (opts.inference?.lm) await app.register(generationRoutes(opts.db, opts.inference.lm, limits, spans), { prefix: '/v1' });
  if (a) {
    await app.register(onchainRoutes(opts.db, a.registrar, a.planner, a.settler), { prefix: '/v1' });
    await app.register(receiptRoutes(opts.db, a.settler, a.auditor, a.ledgers, opts.inference ? { batcher: opts.inference.batcher, vkey: a.vkey, ...(opts.inference.lm ? { lm: opts.inference.lm } : {}), ...(spans ? { spans } : {}) } : undefined), { prefix: '/v1' });
    await app.register(ledgerRoutes(a.ledgers), { prefix: '/v1' });
    await app.register(overviewRoutes(opts.db, a.settler, a.registrar), { prefix: '/v1' });
    await app.register(indexRoutes(opts.db), { prefix: '/v1' });
  }
  return app;
}
