import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpanIndex, detokenize, suffixArray, tokenize } from '../../inference/spans.js';
import { datanetCorpus } from '../../inference/datasets.js';

/** the suffix array by definition: every suffix, compared token by token, a prefix first */
function naiveSuffixArray(s: Uint32Array): number[] {
  const cmp = (a: number, b: number) => {
    for (; a < s.length && b < s.length; a++, b++) if (s[a] !== s[b]) return s[a]! - s[b]!;
    return a === s.length ? (b === s.length ? 0 : -1) : 1;
  };
  return Array.from(s.keys()).sort(cmp);
}

describe('suffix array', () => {
  it('sorts every suffix as the definition does, on small alphabets with long repeats and on large token ids', () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 300 }), fc.array(fc.constantFrom(7, 100_000, 0xffff_ffff), { maxLength: 60 })), (xs) => {
        const s = Uint32Array.from(xs);
        expect(Array.from(suffixArray(s))).toEqual(naiveSuffixArray(s));
      }),
      { numRuns: 300 },
    );
    const repeated = Uint32Array.from({ length: 2048 }, () => 5); // every round of doubling needed
    expect(Array.from(suffixArray(repeated))).toEqual(naiveSuffixArray(repeated));
  });
});

describe('span attribution', async () => {
  const seen = new Set<string>();
  const corpus = (await datanetCorpus()).filter((r) => r.text.length > 600 && !seen.has(r.text) && seen.add(r.text)).slice(0, 300);
  const people = ['0x' + 'a1'.repeat(20), '0x' + 'b2'.repeat(20), '0x' + 'c3'.repeat(20)];
  const records = corpus.map((r, i) => ({ id: i + 1, contributor: people[i % 3]!, text: r.text }));
  const index = SpanIndex.build(records);
  const piece = (r: number, from: number, n: number) => detokenize(tokenize(records[r]!.text).subarray(from, from + n));
  const filler = ' Quarterly zebra forecasts remain unusually purple, said nobody in particular. ';

  it('finds verbatim pieces of records in an answer, with their records, contributors, offsets and the answer positions', () => {
    const answer = filler + piece(10, 20, 40) + filler + piece(101, 5, 25) + filler;
    const m = index.find(answer, { minTokens: 12 });
    const long = m.spans.filter((s) => s.end - s.start >= 20);
    expect(long.map((s) => s.occurrences.map((o) => o.record))).toEqual([expect.arrayContaining([11]), expect.arrayContaining([102])]);
    const [a, b] = long;
    expect(a!.occurrences.find((o) => o.record === 11)).toMatchObject({ contributor: people[10 % 3], offset: expect.any(Number) });
    expect(a!.text).toContain(piece(10, 22, 30).trim());
    expect(tokenize(answer).subarray(a!.start, a!.end)).toEqual(tokenize(a!.text));
    expect(a!.contributors).toContain(people[10 % 3]);
    expect(b!.contributors).toContain(people[101 % 3]);
    // the corpus holds near-copies of some mails: a span is credited to every contributor holding it
    expect(m.credit[people[10 % 3]!]).toBeGreaterThanOrEqual((a!.end - a!.start) / a!.contributors.length);
    // every span is at least minTokens long and occurs where it says
    for (const s of m.spans) {
      expect(s.end - s.start).toBeGreaterThanOrEqual(12);
      for (const o of s.occurrences) {
        const rec = tokenize(records[o.record - 1]!.text);
        expect(Array.from(rec.subarray(o.offset, o.offset + s.end - s.start))).toEqual(Array.from(tokenize(answer).subarray(s.start, s.end)));
      }
    }
  });

  it('reports nothing shorter than minTokens, and no match that runs across two records', () => {
    expect(index.find(filler + filler, { minTokens: 8 }).spans).toEqual([]);
    // the end of record 1 followed by the start of record 2: they sit side by side in the index, but a match stops at the record's end
    const end1 = tokenize(records[0]!.text);
    const across = detokenize(end1.subarray(end1.length - 6)) + detokenize(tokenize(records[1]!.text).subarray(0, 6));
    const m = index.find(across, { minTokens: 8 });
    expect(m.spans.filter((s) => s.occurrences.some((o) => o.record === 1 && o.offset === end1.length - 6))).toEqual([]);
    expect(() => index.find('x', { minTokens: 0 })).toThrow(RangeError);
  });

  it('reads back from its bytes the same index, and refuses bytes cut short', () => {
    const answer = filler + piece(42, 3, 30) + filler;
    const bytes = index.toBytes();
    expect(SpanIndex.fromBytes(bytes).find(answer)).toEqual(index.find(answer));
    // as a file reads back: a Buffer, whose bytes may sit at any offset of a larger allocation
    const unaligned = Buffer.concat([Buffer.alloc(3), bytes]).subarray(3);
    expect(SpanIndex.fromBytes(unaligned).find(answer)).toEqual(index.find(answer));
    expect(SpanIndex.fromBytes(bytes).size).toBe(index.size);
    expect(() => SpanIndex.fromBytes(bytes.subarray(0, bytes.length - 1))).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ARTIFACTS_CORRUPT' }));
    expect(() => SpanIndex.fromBytes(new Uint8Array(64))).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ARTIFACTS_CORRUPT' }));
  });

  it('reads special-token text as plain text, in records and in answers', () => {
    const text = 'A record that quotes <|endoftext|> and <|fim_prefix|> in the middle of a sentence about tokenizers.';
    const special = SpanIndex.build([{ id: 1, contributor: people[0]!, text }]);
    expect(special.find(`it said: ${text}`).spans.map((s) => s.occurrences[0]!.record)).toEqual([1]);
  });

  it('credits each answer token once, however the spans overlap', () => {
    const answer = filler + piece(3, 10, 30) + piece(4, 0, 30) + filler;
    const m = index.find(answer, { minTokens: 4 });
    const covered = new Set(m.spans.flatMap((s) => Array.from({ length: s.end - s.start }, (_, k) => s.start + k)));
    const credited = Object.values(m.credit).reduce((a, b) => a + b, 0);
    expect(credited).toBeCloseTo(covered.size, 9);
    expect(m.spans.length).toBeGreaterThan(1);
  });

  it('credits every contributor whose records hold a span, equally', () => {
    const shared = ' This exact sentence was contributed by two different people to the same datanet on purpose. ';
    const two = SpanIndex.build([
      { id: 1, contributor: people[0]!, text: 'First record.' + shared + 'Its own ending.' },
      { id: 2, contributor: people[1]!, text: 'Second record.' + shared },
      { id: 3, contributor: people[2]!, text: 'Nothing in common with the others at all.' },
    ]);
    const m = two.find('Answer:' + shared + 'done', { minTokens: 8 });
    expect(m.spans).toHaveLength(1);
    expect(m.spans[0]).toMatchObject({ count: 2, contributors: [people[0], people[1]] });
    const n = m.spans[0]!.end - m.spans[0]!.start;
    expect(m.credit).toEqual({ [people[0]!]: n / 2, [people[1]!]: n / 2 });
  });
});
