import { spawn, spawnSync } from 'node:child_process';
import { freePort } from '../../lib/net.js';

/**
 * A real redis-server for the BullMQ tests: started on a free port without persistence
 * and stopped by its pid. Without redis-server on PATH those tests are skipped and say
 * why (CI installs Debian's package when it can).
 */
export const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasRedis) console.warn('redis-server is not on PATH: the BullMQ job queue tests are skipped (apt-get install redis-server)');

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    redis.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    redis.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${out}`));
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (redis.pid && redis.exitCode === null) {
        const exited = new Promise((r) => redis.once('exit', r));
        process.kill(redis.pid, 'SIGTERM');
        await exited;
      }
    },
  };
}
