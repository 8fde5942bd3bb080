import { tf } from '../inference/backend.js';
import { FEATURE_DIM } from '../inference/features.js';
import { forward } from '../inference/forward.js';
import type { BaseModel } from '../inference/model.js';
import { adapterTensors, disposeAdapterTensors } from '../inference/train.js';

/** Each query's cross-entropy under an adapter, at the given labels or at the adapter's own predictions (which it also returns). */
export function queryLosses(model: BaseModel, adapter: Parameters<typeof adapterTensors>[0], queryX: readonly Float32Array[], labels: readonly number[] | null): { loss: number[]; predicted: number[] } {
  const t = adapterTensors(adapter);
  try {
    const flat = new Float32Array(queryX.length * FEATURE_DIM);
    queryX.forEach((x, i) => flat.set(x, i * FEATURE_DIM));
    const logits = tf.tidy(() => forward(model, tf.tensor2d(flat, [queryX.length, FEATURE_DIM]), t).arraySync() as number[][]);
    const predicted = logits.map((l) => l.indexOf(Math.max(...l)));
    const loss = logits.map((l, i) => {
      const m = Math.max(...l);
      return m + Math.log(l.reduce((s, v) => s + Math.exp(v - m), 0)) - l[(labels ?? predicted)[i]!]!;
    });
    return { loss, predicted };
  } finally {
    disposeAdapterTensors(t);
  }
}
