import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ENV, env } from '../lib/config.js';

/**
 * The tensor backend, chosen once at start: @tensorflow/tfjs-node-gpu where CUDA is
 * present, @tensorflow/tfjs-node on CPU, else pure @tensorflow/tfjs on its wasm
 * backend (SIMD; measured here 512³ matmul 6.9 ms vs 178 ms on its plain cpu backend),
 * else the plain cpu backend. The native packages are optional dependencies: their
 * install downloads libtensorflow, which fails offline, and then they are absent.
 * ZKPOA_TF_BACKEND=node-gpu|node|wasm|cpu forces one (an unavailable one is an error).
 */
export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** tf.getBackend() after selection */
  tfBackend: string;
  /** why the faster choices were not taken */
  skipped: { name: BackendName; reason: string }[];
}

const require = createRequire(import.meta.url);
let selected: Promise<BackendInfo> | undefined;

async function tryNative(pkg: string): Promise<void> {
  // The native packages register their backend ('tensorflow') on import.
  await import(pkg);
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialize`);
}

async function tryWasm(): Promise<void> {
  setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'dist') + '/');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend did not initialize');
}

/** An NVIDIA driver is loaded (the GPU build is only worth trying then). */
function cudaPresent(): boolean {
  return process.env[ENV.cudaDevices] !== '' && (existsSync('/proc/driver/nvidia/version') || existsSync('/dev/nvidia0'));
}

const attempts: Record<BackendName, () => Promise<void>> = {
  'node-gpu': async () => {
    if (!cudaPresent()) throw new Error('no NVIDIA driver found');
    await tryNative('@tensorflow/tfjs-node-gpu');
  },
  node: () => tryNative('@tensorflow/tfjs-node'),
  wasm: tryWasm,
  cpu: async () => {
    if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend did not initialize');
  },
};

async function select(): Promise<BackendInfo> {
  const forced = env('tfBackend') as BackendName | undefined;
  if (forced && !(forced in attempts)) throw new Error(`${ENV.tfBackend} must be one of ${Object.keys(attempts).join(', ')}`);
  const order: BackendName[] = forced ? [forced] : ['node-gpu', 'node', 'wasm', 'cpu'];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of order) {
    try {
      await attempts[name]();
      await tf.ready();
      return { name, tfBackend: tf.getBackend(), skipped };
    } catch (err) {
      skipped.push({ name, reason: (err as Error).message.split('\n')[0]! });
    }
  }
  throw new Error(`no tensor backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** Selects the backend once per thread and reports it. */
export function initBackend(): Promise<BackendInfo> {
  selected ??= select();
  return selected;
}

export { tf };
