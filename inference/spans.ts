import { decode, encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { ZkpoaError } from '../attribution/errors.js';

/**
 * Span attribution of generated text, as Infini-gram and OLMoTrace do it: a datanet
 * version's records, tokenized with one byte-level BPE (cl100k_base, from gpt-tokenizer)
 * and joined end to end, indexed by a suffix array; an answer's maximal spans of at least
 * `minTokens` tokens that occur in the records, each credited to the contributors whose
 * records hold it, with positions. Answers are tokenized with the same BPE, whatever
 * model generated them.
 */

/** Ends every record: no token has this id, so no match runs from one record into the next. */
const SEPARATOR = 0xffff_ffff;
const MAGIC = Uint8Array.from(Buffer.from('zkspans1'));
/** magic, token count, record count, metadata bytes, padding: the arrays start at a multiple of 8 (in the machine's byte order: little-endian wherever Node runs) */
const HEADER_BYTES = 24;
/**
 * occurrences of one span looked up for its contributors: a span held more often is
 * boilerplate, credited to the contributors of the first ones in suffix order (an
 * arbitrary but reproducible subset)
 */
const MAX_SCANNED = 1024;

/** Special-token text (`<|endoftext|>` …) is read as plain text: records and answers are data, never control. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

export function tokenize(text: string): Uint32Array {
  return Uint32Array.from(encode(text, AS_TEXT));
}

export function detokenize(tokens: ArrayLike<number>): string {
  return decode(Array.from(tokens));
}

/** Every record's tokens end to end, each followed by the separator, and where each starts. */
export function joinRecords(records: readonly { text: string }[]): { tokens: Uint32Array; starts: Int32Array } {
  const parts = records.map((r) => tokenize(r.text));
  const tokens = new Uint32Array(parts.reduce((n, p) => n + p.length + 1, 0));
  const starts = new Int32Array(parts.length);
  let at = 0;
  parts.forEach((p, i) => {
    starts[i] = at;
    tokens.set(p, at);
    tokens[at + p.length] = SEPARATOR;
    at += p.length + 1;
  });
  return { tokens, starts };
}

/**
 * The suffix array of `s` by prefix doubling with radix sorts (Manber and Myers):
 * O(n log n) time on typed arrays, rounds stopping once every suffix has its own rank.
 * A suffix that is a prefix of another sorts first.
 */
export function suffixArray(s: Uint32Array): Int32Array {
  const n = s.length;
  const sa = new Int32Array(n);
  if (n === 0) return sa;
  let rank = new Int32Array(n);
  let next = new Int32Array(n);
  const byKey2 = new Int32Array(n);
  const count = new Int32Array(n + 1);
  // ranks of length 1: tokens in numeric order, dense
  const values = Uint32Array.from(new Set(s)).sort();
  const dense = new Map<number, number>();
  values.forEach((v, r) => dense.set(v, r));
  for (let i = 0; i < n; i++) rank[i] = dense.get(s[i]!)!;
  for (let i = 0; i < n; i++) count[rank[i]!]!++;
  for (let r = 1; r <= n; r++) count[r]! += count[r - 1]!;
  for (let i = n - 1; i >= 0; i--) sa[--count[rank[i]!]!] = i;
  if (values.length === n) return sa;
  for (let k = 1; ; k *= 2) {
    // order by the second half's rank: suffixes without one first, then the rest as sa orders their second halves
    let p = 0;
    for (let i = n - k; i < n; i++) byKey2[p++] = i;
    for (let j = 0; j < n; j++) if (sa[j]! >= k) byKey2[p++] = sa[j]! - k;
    // then stably by the first half's rank
    count.fill(0);
    for (let i = 0; i < n; i++) count[rank[i]!]!++;
    for (let r = 1; r <= n; r++) count[r]! += count[r - 1]!;
    for (let j = n - 1; j >= 0; j--) sa[--count[rank[byKey2[j]!]!]!] = byKey2[j]!;
    const second = (i: number) => (i + k < n ? rank[i + k]! : -1);
    next[sa[0]!] = 0;
    for (let j = 1; j < n; j++) {
      const a = sa[j]!;
      const b = sa[j - 1]!;
      next[a] = next[b]! + (rank[a] !== rank[b] || second(a) !== second(b) ? 1 : 0);
    }
    [rank, next] = [next, rank];
    if (rank[sa[n - 1]!] === n - 1) return sa;
  }
}

export interface SpanRecord {
  /** the record's id in its datanet */
  id: number;
  contributor: string;
  text: string;
}

export interface SpanOccurrence {
  record: number;
  contributor: string;
  /** the span's first token in the record's tokens */
  offset: number;
}

export interface Span {
  /** answer tokens [start, end) */
  start: number;
  end: number;
  text: string;
  /** how many times the records hold it */
  count: number;
  /** where, in record order: the first `maxOccurrences` */
  occurrences: SpanOccurrence[];
  /** the distinct contributors of its occurrences, each credited an equal part of the span's tokens not in the span before it */
  contributors: string[];
}

export interface SpanMatch {
  tokens: number;
  spans: Span[];
  /** per contributor: answer tokens credited (a span's length, split equally among the contributors holding it) */
  credit: Record<string, number>;
}

/** A datanet version's records under a suffix array, for span lookups. */
export class SpanIndex {
  private constructor(
    /** every record's tokens, each followed by SEPARATOR */
    private readonly tokens: Uint32Array,
    private readonly sa: Int32Array,
    /** where each record's tokens start, increasing */
    private readonly starts: Int32Array,
    private readonly records: readonly { id: number; contributor: string }[],
  ) {}

  static build(records: readonly SpanRecord[]): SpanIndex {
    const { tokens, starts } = joinRecords(records);
    return new SpanIndex(tokens, suffixArray(tokens), starts, records.map((r) => ({ id: r.id, contributor: r.contributor })));
  }

  /** The index as bytes (a file beside the datanet's other data), read back by fromBytes. */
  toBytes(): Uint8Array {
    const meta = Buffer.from(JSON.stringify({ ids: this.records.map((r) => r.id), contributors: this.records.map((r) => r.contributor) }));
    const n = this.tokens.length;
    const r = this.starts.length;
    const out = new Uint8Array(HEADER_BYTES + 4 * (2 * n + r) + meta.length);
    out.set(MAGIC);
    new DataView(out.buffer).setUint32(8, n, true);
    new DataView(out.buffer).setUint32(12, r, true);
    new DataView(out.buffer).setUint32(16, meta.length, true);
    let at = HEADER_BYTES;
    for (const a of [this.tokens, this.sa, this.starts]) {
      out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
      at += a.byteLength;
    }
    out.set(meta, at);
    return out;
  }

  static fromBytes(bytes: Uint8Array): SpanIndex {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < HEADER_BYTES || !MAGIC.every((b, i) => bytes[i] === b)) throw new ZkpoaError('ZKPOA_ERR_ARTIFACTS_CORRUPT', 'not a span index file');
    const [n, r, metaBytes] = [view.getUint32(8, true), view.getUint32(12, true), view.getUint32(16, true)];
    if (bytes.length !== HEADER_BYTES + 4 * (2 * n + r) + metaBytes) throw new ZkpoaError('ZKPOA_ERR_ARTIFACTS_CORRUPT', 'a span index file of the wrong length (cut short?)');
    // copies: a file's bytes need not sit at a multiple of 4 in memory
    const words = (from: number, count: number) => new Uint8Array(bytes.subarray(HEADER_BYTES + 4 * from, HEADER_BYTES + 4 * (from + count))).buffer; // (a Buffer's slice is a view)
    let meta: { ids: number[]; contributors: string[] };
    try {
      meta = JSON.parse(Buffer.from(bytes.subarray(HEADER_BYTES + 4 * (2 * n + r))).toString('utf8')) as typeof meta;
    } catch {
      throw new ZkpoaError('ZKPOA_ERR_ARTIFACTS_CORRUPT', 'a span index file whose record list is not JSON');
    }
    if (!Array.isArray(meta?.ids) || !Array.isArray(meta.contributors) || meta.ids.length !== r || meta.contributors.length !== r) {
      throw new ZkpoaError('ZKPOA_ERR_ARTIFACTS_CORRUPT', `a span index file whose record list does not hold its ${r} records`);
    }
    return new SpanIndex(new Uint32Array(words(0, n)), new Int32Array(words(n, n)), new Int32Array(words(2 * n, r)), meta.ids.map((id, i) => ({ id, contributor: meta.contributors[i]! })));
  }

  /** tokens indexed, separators included */
  get size(): number {
    return this.tokens.length;
  }

  /**
   * The answer's maximal spans of at least `minTokens` tokens found in the records: for
   * each answer position the longest match starting there, kept when it reaches past the
   * span kept before it.
   */
  find(answer: string, opts: { minTokens?: number; maxOccurrences?: number } = {}): SpanMatch {
    const minTokens = opts.minTokens ?? 8;
    const maxOccurrences = opts.maxOccurrences ?? 16;
    if (!Number.isInteger(minTokens) || minTokens < 1) throw new RangeError('minTokens must be a positive integer');
    const q = tokenize(answer);
    const spans: Span[] = [];
    const credit: Record<string, number> = {};
    let keptEnd = 0;
    for (let i = 0; i + minTokens <= q.length; i++) {
      const { length, lo, hi } = this.longestMatch(q, i);
      if (length < minTokens || i + length <= keptEnd) continue;
      // each answer token is credited once: a span overlapping the one before adds only its new tokens
      const fresh = i + length - Math.max(i, keptEnd);
      keptEnd = i + length;
      // every occurrence's contributor is credited (up to MAX_SCANNED of them); the reply lists the first few
      const found = Array.from(this.sa.subarray(lo, Math.min(hi, lo + MAX_SCANNED)), (p) => this.locate(p)).sort((a, b) => a.record - b.record || a.offset - b.offset);
      const contributors = [...new Set(found.map((o) => o.contributor))];
      const occurrences = found.slice(0, maxOccurrences);
      for (const c of contributors) credit[c] = (credit[c] ?? 0) + fresh / contributors.length;
      spans.push({ start: i, end: i + length, text: detokenize(q.subarray(i, i + length)), count: hi - lo, occurrences, contributors });
    }
    return { tokens: q.length, spans, credit };
  }

  /** The longest prefix of q[from..] the records hold, and its range of the suffix array. */
  private longestMatch(q: Uint32Array, from: number): { length: number; lo: number; hi: number } {
    let lo = 0;
    let hi = this.sa.length;
    let length = 0;
    while (from + length < q.length) {
      const t = q[from + length]!;
      const a = this.bound(lo, hi, length, t, false);
      const b = this.bound(a, hi, length, t, true);
      if (a === b) break;
      lo = a;
      hi = b;
      length++;
    }
    return { length, lo, hi };
  }

  /** The first suffix of sa[lo, hi) whose token at `depth` is ≥ t (or > t when `after`); the range is sorted by it. */
  private bound(lo: number, hi: number, depth: number, t: number, after: boolean): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.sa[mid]! + depth;
      const v = p < this.tokens.length ? this.tokens[p]! : -1;
      if (v < t || (after && v === t)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private locate(position: number): SpanOccurrence {
    let lo = 0;
    let hi = this.starts.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= position) lo = mid;
      else hi = mid;
    }
    const r = this.records[lo]!;
    return { record: r.id, contributor: r.contributor, offset: position - this.starts[lo]! };
  }
}
