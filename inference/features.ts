/**
 * Text → a fixed-size feature vector the base model reads: hashed unigrams and
 * bigrams (FNV-1a, signed hashing to cancel collision bias), log-scaled counts,
 * L2-normalized. Pure TypeScript, so every backend sees identical inputs.
 */
export const FEATURE_DIM = 4096;
const MAX_TOKENS = 4000;

export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}$!]{2,30}/gu)) {
    out.push(m[0]);
    if (out.length >= MAX_TOKENS) break;
  }
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function hashFeatures(text: string, dim: number = FEATURE_DIM): Float32Array {
  const counts = new Float64Array(dim);
  const tokens = tokenize(text);
  const add = (term: string) => {
    const h = fnv1a(term);
    counts[h % dim]! += h & 0x80000000 ? -1 : 1;
  };
  for (let i = 0; i < tokens.length; i++) {
    add(tokens[i]!);
    if (i > 0) add(tokens[i - 1] + ' ' + tokens[i]);
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    const c = counts[i]!;
    counts[i] = Math.sign(c) * Math.log1p(Math.abs(c));
    norm += counts[i]! * counts[i]!;
  }
  const out = new Float32Array(dim);
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dim; i++) out[i] = counts[i]! * scale;
  return out;
}
