import { dot } from './vector.js';

/**
 * Limited-memory BFGS with a backtracking (Armijo) line search, in float64 and in a
 * fixed order of operations: the same objective and start give the same bits on every
 * machine, which is what deterministic retraining needs.
 */
export interface LbfgsOptions {
  maxIterations: number;
  /** pairs (s, y) kept for the inverse-Hessian estimate */
  memory?: number;
  /** stop when ‖∇f‖ falls below this */
  gradientTolerance?: number;
  /** stop when an iteration lowers f by less than this */
  functionTolerance?: number;
  onIteration?: (iteration: number, f: number, gradientNorm: number) => void;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  gradientNorm: number;
  iterations: number;
  /** stopped before the iteration limit: ‖∇f‖ below tolerance, or f no longer decreasing */
  converged: boolean;
}

/** `fg(x, g)` returns f(x) and writes ∇f(x) into g. */
export type Objective = (x: Float64Array, g: Float64Array) => number;


export function minimizeLbfgs(fg: Objective, x0: Float64Array, opts: LbfgsOptions): LbfgsResult {
  const n = x0.length;
  const memory = opts.memory ?? 20;
  const gtol = opts.gradientTolerance ?? 1e-7;
  const ftol = opts.functionTolerance ?? 1e-13;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let f = fg(x, g);
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const d = new Float64Array(n);
  let xNext = new Float64Array(n);
  let gNext = new Float64Array(n);
  let iterations = 0;
  let gnorm = Math.sqrt(dot(g, g));
  while (iterations < opts.maxIterations && gnorm >= gtol) {
    iterations++;
    // two-loop recursion: d = H·g
    d.set(g);
    const alpha = new Array<number>(s.length);
    for (let i = s.length - 1; i >= 0; i--) {
      alpha[i] = dot(s[i]!, d) / dot(y[i]!, s[i]!);
      for (let j = 0; j < n; j++) d[j]! -= alpha[i]! * y[i]![j]!;
    }
    const gamma = s.length ? dot(s.at(-1)!, y.at(-1)!) / dot(y.at(-1)!, y.at(-1)!) : 1 / gnorm;
    for (let j = 0; j < n; j++) d[j]! *= gamma;
    for (let i = 0; i < s.length; i++) {
      const beta = dot(y[i]!, d) / dot(y[i]!, s[i]!);
      for (let j = 0; j < n; j++) d[j]! += s[i]![j]! * (alpha[i]! - beta);
    }
    const slope = -dot(g, d);
    if (!(slope < 0)) {
      // not a descent direction (a stale curvature pair): restart from steepest descent
      if (s.length === 0) break;
      s.length = 0;
      y.length = 0;
      continue;
    }
    let step = 1;
    let fNext = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let j = 0; j < n; j++) xNext[j] = x[j]! - step * d[j]!;
      fNext = fg(xNext, gNext);
      if (fNext <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNext < f)) break; // no decrease along the direction: as far as float64 goes
    const sk = new Float64Array(n);
    const yk = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      sk[j] = xNext[j]! - x[j]!;
      yk[j] = gNext[j]! - g[j]!;
    }
    if (dot(sk, yk) > 1e-12 * dot(yk, yk)) {
      s.push(sk);
      y.push(yk);
      if (s.length > memory) {
        s.shift();
        y.shift();
      }
    }
    const decrease = f - fNext;
    [x, xNext] = [xNext, x];
    [g, gNext] = [gNext, g];
    f = fNext;
    gnorm = Math.sqrt(dot(g, g));
    opts.onIteration?.(iterations, f, gnorm);
    if (decrease < ftol) break;
  }
  return { x, f, gradientNorm: gnorm, iterations, converged: gnorm < gtol || iterations < opts.maxIterations };
}
