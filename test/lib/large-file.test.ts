import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLargeFile } from '../../lib/large-file.js';
import { tempDir } from '../inference/helpers.js';

describe('readLargeFile', () => {
  it('reads a whole file or a range of it, into private or shared memory, and refuses a range past the end', async () => {
    const path = join(await tempDir('zkpoa-large-'), 'data.bin');
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
    await writeFile(path, data);
    expect(await readLargeFile(path)).toEqual(data);
    const range = await readLargeFile(path, { offset: 100, size: 300, shared: true });
    expect(range.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(range)).toEqual(Array.from(data.subarray(100, 400)));
    await expect(readLargeFile(path, { offset: 900, size: 200 })).rejects.toThrow(/ends before byte 1100/);
  });
});
