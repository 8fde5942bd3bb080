import { move } from 'piscina';
import { Bn128Wasm } from './bn128-wasm.js';
import { FixedBaseTable, type GroupName } from './fixed-base.js';

/**
 * A development-setup worker: fixed-base multiplications of the G1 or G2 generator.
 * Each worker builds its table once per group and window and keeps it for every task
 * of the setup; scalars arrive (transferred) and the points go back (transferred).
 */
export interface FixedBaseTask {
  group: GroupName;
  window: number;
  /** 32-byte scalars, little-endian, standard form */
  scalars: Uint8Array;
  format: 'lem' | 'u' | 'both';
}

/** the points, LEM or uncompressed; for 'both', the LEM points followed by the uncompressed ones */
export type FixedBaseResult = Uint8Array;

const wasm = Bn128Wasm.create();
const tables = new Map<string, FixedBaseTable>();

export default async function run(task: FixedBaseTask): Promise<FixedBaseResult> {
  const w = await wasm;
  const key = `${task.group}/${task.window}`;
  let table = tables.get(key);
  if (!table) {
    table = new FixedBaseTable(w, task.group, task.window);
    tables.set(key, table);
  }
  const scalars = new Uint8Array(task.scalars.buffer, task.scalars.byteOffset, task.scalars.byteLength);
  try {
    if (task.format === 'both') {
      const r = table.multiply(scalars, 'both');
      const out = new Uint8Array(r.lem.byteLength * 2);
      out.set(r.lem, 0);
      out.set(r.u, r.lem.byteLength);
      return move(out) as Uint8Array;
    }
    return move(table.multiply(scalars, task.format)) as Uint8Array;
  } finally {
    scalars.fill(0); // the scalars are functions of the setup's secrets
  }
}
