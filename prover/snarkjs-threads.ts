import { buildBn128, type Curve } from 'ffjavascript';

/**
 * snarkjs caches a multi-threaded bn128 curve on globalThis and its worker threads
 * keep the process alive. Call this on shutdown of anything that used snarkjs in
 * this thread (setup, tests, CLI).
 */
export async function releaseSnarkjsThreads(): Promise<void> {
  const g = globalThis as { curve_bn128?: Curve | null };
  const curve = g.curve_bn128;
  if (curve) await curve.terminate();
  g.curve_bn128 = null;
}

/**
 * Make snarkjs use one single-threaded curve in this thread, built once: inside a
 * worker pool, each worker proves on its own core, so nested threads would only
 * oversubscribe the machine (and snarkjs would otherwise build a new curve per call).
 */
export async function useSingleThreadedCurve(): Promise<Curve> {
  const g = globalThis as { curve_bn128?: Curve | null };
  if (g.curve_bn128) await g.curve_bn128.terminate();
  const curve = await buildBn128(true);
  g.curve_bn128 = curve;
  return curve;
}
