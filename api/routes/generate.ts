import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AdapterId, ErrorReply, SpanMatchReply, caller, errorReplies, wellFormed } from './common.js';
import { ZkpoaError } from '../../attribution/errors.js';
import type { GenerationResult } from '../../inference/generation.js';
import type { LmServing } from '../../inference/lm-serving.js';
import type { SpanMatch } from '../../inference/spans.js';
import type { TenantLimits } from '../limits.js';
import type { SpanIndexes } from '../span-indexes.js';
import { AdapterRegistryStore, type AdapterRow } from '../store/adapters.js';
import type { Db } from '../store/db.js';
import type { Host } from '../store/hosts.js';
import { ReceiptStore, type GeneratedOutput } from '../store/receipts.js';

const Answer = Type.Object({
  adapter: Type.String(),
  text: Type.String(),
  tokens: Type.Integer({ description: 'tokens generated' }),
  promptTokens: Type.Integer(),
  finish: Type.Union([Type.Literal('end'), Type.Literal('length')]),
  receipt: Type.String(),
  number: Type.Integer({ description: 'the answer’s number in its adapter’s sequence' }),
  spans: Type.Union([SpanMatchReply, Type.Null()], { description: 'the answer’s spans in the adapter’s datanet version, or null while its span index is built' }),
});

/**
 * Text generation on the caller's language-model adapters (continuous batching underneath):
 * the answer as one JSON body, or streamed as server-sent events (`token` events with the
 * text each token completes, then `done` with the answer, or `error`). Each finished answer
 * is stored with a receipt that records its sampling and its spans in the adapter's
 * datanet version (what an auditor replays: api/audit-generated.ts); an answer the caller
 * let go of before its end is not stored.
 */
export function generationRoutes(db: Db, lm: LmServing, limits: TenantLimits, spans?: SpanIndexes): FastifyPluginAsyncTypebox {
  const adapters = new AdapterRegistryStore(db);
  const receipts = new ReceiptStore(db);

  /** A finished answer, stored with its spans (when the version's span index is ready) and the sampling that made it. */
  const answer = async (host: Host, a: AdapterRow, prompt: string, sampling: GeneratedOutput['sampling'], result: GenerationResult, gone: AbortSignal, log: { warn(o: object, msg: string): void }) => {
    if (result.finish === 'cancelled') throw new ZkpoaError('ZKPOA_ERR_CLOSED', 'the generation was stopped before its end (the service is closing); nothing was stored');
    let found: SpanMatch | null = null;
    if (spans) {
      try {
        found = result.text ? await spans.find(host, a.datanetId, a.datanetVersion, result.text, {}) : { tokens: 0, spans: [], credit: {} };
      } catch (err) {
        if ((err as ZkpoaError).code !== 'ZKPOA_ERR_SPANS_NOT_READY') log.warn({ err }, 'span lookup of a generated answer failed');
      }
    }
    if (gone.aborted) return undefined; // the client left during the lookup: nothing is stored for nobody
    const output: GeneratedOutput = { text: result.text, tokens: result.tokens.length, finish: result.finish, sampling, generatedBy: await lm.identity(), spans: found ? { count: found.spans.length, credit: found.credit } : null };
    const [receipt] = receipts.add(host, [{ adapter: a, input: prompt, output }], limits.maxStoredAnswers);
    return { adapter: a.id, text: result.text, tokens: result.tokens.length, promptTokens: result.promptTokens, finish: result.finish, receipt: receipt!.id, number: receipt!.number, spans: found };
  };

  return async (app) => {
    app.post(
      '/generate',
      {
        config: { auth: true },
        schema: {
          summary: 'Generate text with one of the caller’s language-model adapters, as one answer or streamed (server-sent events); the answer gets a receipt and its datanet spans',
          body: Type.Object(
            {
              adapter: AdapterId,
              prompt: Type.String({ maxLength: 20_000 }),
              maxTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, default: 64 })),
              temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: '0 (the default): greedy' })),
              topK: Type.Optional(Type.Integer({ minimum: 1 })),
              topP: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
              seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
              stream: Type.Optional(Type.Boolean({ description: 'stream tokens as server-sent events' })),
            },
            { additionalProperties: false },
          ),
          response: { 200: Answer, 503: ErrorReply, ...errorReplies },
        },
      },
      async (req, reply) => {
        const host = caller(req.caller);
        const { adapter: id, prompt, stream, ...sampling } = req.body;
        wellFormed(prompt, 'prompt');
        const a = adapters.get(host, id);
        if (a.model !== 'causal-lm') throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${id} is a classifier's: ask it with POST /v1/infer`);
        if (a.status !== 'ready') throw new ZkpoaError('ZKPOA_ERR_ADAPTER_NOT_READY', `adapter ${id} is ${a.status}`);
        // refused before any work if the answer could not be stored; the insert is the authority
        if (receipts.count(host) >= limits.maxStoredAnswers) throw new ZkpoaError('ZKPOA_ERR_INPUT_QUOTA', `host ${host.id} stores ${limits.maxStoredAnswers} answers, the most it may`);
        // a client that goes away (even while the model loads) lets go of its place in the batch
        const gone = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) gone.abort();
        });
        const engine = await lm.engine();
        await lm.adapter(a.key); // a missing or corrupt adapter file is refused before any event is sent
        if (gone.signal.aborted || reply.raw.destroyed) return reply;
        const recorded = { ...sampling, maxTokens: sampling.maxTokens ?? 64 };
        const request = { prompt, adapterId: a.key, ...recorded };
        if (!stream) {
          const result = await engine.generate(request, { signal: gone.signal });
          const stored = gone.signal.aborted ? undefined : await answer(host, a, prompt, recorded, result, gone.signal, req.log);
          return stored ?? reply; // nobody to answer, and nothing stored
        }

        // server-sent events: the headers the hooks set so far (security headers) go out with them
        reply.hijack();
        const res = reply.raw;
        const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        try {
          res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
          const result = await engine.generate(request, { signal: gone.signal, onToken: (token, text) => send('token', { token, text }) });
          const stored = gone.signal.aborted ? undefined : await answer(host, a, prompt, recorded, result, gone.signal, req.log);
          if (stored) send('done', stored);
        } catch (err) {
          const e = err instanceof ZkpoaError ? err : new ZkpoaError('ZKPOA_ERR_INTERNAL', 'internal error');
          if (!(err instanceof ZkpoaError)) req.log.error({ err }, 'generation failed');
          send('error', { error: { code: e.code, message: e.message } });
        } finally {
          res.end();
        }
        return reply;
      },
    );
  };
}
