import { describe, expect, it } from 'vitest';
import { serverSentEvents } from '../../lib/sse.js';

async function* chunks(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const all = async (text: string, size: number) => {
  const out = [];
  for await (const e of serverSentEvents(chunks(text, size))) out.push(e);
  return out;
};

describe('server-sent events', () => {
  it('reads events split anywhere, even inside a character, and drops a cut-off one', async () => {
    const stream = 'event: token\ndata: {"text":"héllo 🙂"}\n\n: a comment\r\ndata: one\r\ndata: two\r\n\r\nevent: done\ndata: {}\n\nevent: token\ndata: cut';
    const want = [
      { event: 'token', data: '{"text":"héllo 🙂"}' },
      { event: 'message', data: 'one\ntwo' },
      { event: 'done', data: '{}' },
    ];
    for (const size of [1, 2, 3, 7, 1000]) expect(await all(stream, size)).toEqual(want);
  });
});
