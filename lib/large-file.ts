import { open, stat } from 'node:fs/promises';

/**
 * `size` bytes of a file from `offset` (by default the whole file) in one buffer, read in
 * pieces: proving keys and constraint systems run to gigabytes, past what `readFile` and a
 * single read take. `shared` puts them in a SharedArrayBuffer, which worker threads view
 * instead of each copying.
 */
export async function readLargeFile(path: string, opts: { offset?: number; size?: number; shared?: boolean } = {}): Promise<Uint8Array> {
  const offset = opts.offset ?? 0;
  const size = opts.size ?? (await stat(path)).size - offset;
  const bytes = opts.shared ? new Uint8Array(new SharedArrayBuffer(size)) : new Uint8Array(size);
  const file = await open(path, 'r');
  try {
    for (let done = 0; done < size; ) {
      const { bytesRead } = await file.read(bytes, done, Math.min(1 << 30, size - done), offset + done);
      if (bytesRead === 0) throw new Error(`${path} ends before byte ${offset + size}`);
      done += bytesRead;
    }
  } finally {
    await file.close();
  }
  return bytes;
}
