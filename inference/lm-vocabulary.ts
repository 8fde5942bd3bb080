import { detokenize as decode, tokenize as encode } from './spans.js';

const UTF8 = new TextEncoder();

/**
 * A language model's vocabulary: cl100k_base (the BPE span attribution uses) cut down to
 * what a small model can hold. Id 0 ends a text, ids 1 to 256 are bytes, and the rest are
 * the corpus's most frequent cl100k tokens that stand for whole characters. Any other
 * cl100k token is spelled in bytes, so every text round-trips.
 */
export class LmVocabulary {
  static readonly END = 0;
  private static readonly BYTES = 1;
  private static readonly FIRST_TOKEN = 257;
  private readonly lmIdOf: Map<number, number>;
  private readonly bytesOf: Uint8Array[];

  private constructor(
    /** the kept cl100k ids, in LM id order from FIRST_TOKEN */
    readonly kept: readonly number[],
  ) {
    this.lmIdOf = new Map(kept.map((t, i) => [t, LmVocabulary.FIRST_TOKEN + i]));
    this.bytesOf = kept.map((t) => UTF8.encode(decode([t])));
  }

  /** The `size` − 257 most frequent whole-character cl100k tokens of `texts` (ties by id). */
  static fromCorpus(texts: Iterable<string>, size: number): LmVocabulary {
    if (!Number.isInteger(size) || size < LmVocabulary.FIRST_TOKEN) throw new RangeError(`a vocabulary holds at least ${LmVocabulary.FIRST_TOKEN} ids`);
    const counts = new Map<number, number>();
    for (const text of texts) for (const t of encode(text)) counts.set(t, (counts.get(t) ?? 0) + 1);
    const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([t]) => t);
    const kept: number[] = [];
    for (const t of ranked) {
      if (kept.length === size - LmVocabulary.FIRST_TOKEN) break;
      if (LmVocabulary.whole(t)) kept.push(t);
    }
    return new LmVocabulary(kept);
  }

  /** A token that stands for whole characters and is its own encoding: text round-trips through it. */
  private static whole(t: number): boolean {
    const s = decode([t]);
    if (s.length === 0 || s.includes('\uFFFD')) return false;
    const again = encode(s);
    return again.length === 1 && again[0] === t;
  }

  static fromJson(json: { base: string; kept: number[] }): LmVocabulary {
    if (json?.base !== 'cl100k_base' || !Array.isArray(json.kept)) throw new TypeError('not an LM vocabulary over cl100k_base');
    const bad = json.kept.find((t) => !Number.isInteger(t) || t < 0 || !LmVocabulary.whole(t));
    if (bad !== undefined) throw new TypeError(`${JSON.stringify(bad)} is not a whole-character cl100k_base token`);
    if (new Set(json.kept).size !== json.kept.length) throw new TypeError('a token is kept twice');
    return new LmVocabulary(json.kept);
  }

  toJson(): { base: string; kept: number[] } {
    return { base: 'cl100k_base', kept: [...this.kept] };
  }

  get size(): number {
    return LmVocabulary.FIRST_TOKEN + this.kept.length;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    let spelled: number[] = []; // a run of cl100k tokens not kept: spelled out in bytes together, since one may hold part of a character
    const flush = () => {
      if (spelled.length === 0) return;
      for (const b of UTF8.encode(decode(spelled))) out.push(LmVocabulary.BYTES + b);
      spelled = [];
    };
    for (const t of encode(text)) {
      const id = this.lmIdOf.get(t);
      if (id === undefined) spelled.push(t);
      else {
        flush();
        out.push(id);
      }
    }
    flush();
    return out;
  }

  /** The UTF-8 bytes an id stands for (none for the end id). */
  bytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new RangeError(`${id} is not an id of this vocabulary`);
    if (id === LmVocabulary.END) return new Uint8Array(0);
    if (id < LmVocabulary.FIRST_TOKEN) return Uint8Array.of(id - LmVocabulary.BYTES);
    return this.bytesOf[id - LmVocabulary.FIRST_TOKEN]!;
  }

  /** Text of LM ids; the end id ends it. Bytes that are not UTF-8 decode to U+FFFD. */
  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      if (id === LmVocabulary.END) break;
      bytes.push(...this.bytes(id));
    }
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }
}
