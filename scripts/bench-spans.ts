/**
 * npm run bench:spans -- [--answers 200] [--min-tokens 8] [--baseline-answers 3]
 * Span attribution over a datanet of every SpamAssassin message, contributed by 1,024
 * contributors of Zipf-distributed sizes: the suffix array's build time, then per answer
 * the p50 and p99 of a lookup (SpanIndex.find), against a baseline measured in the same
 * run on a few of the same answers: the same longest matches found by scanning every
 * record token, which is what a lookup without an index does. Half the answers carry
 * three verbatim pieces of records (whole words, 12 to 48 tokens) between novel text, half are novel
 * text only; the planted pieces found, and credited to their contributor, are printed
 * (a piece held verbatim by other records too is credited to the records that hold the
 * longest match around it). Last line:
 * span_p50_ms=<p50 of a lookup, in milliseconds>.
 */
import { parseArgs } from 'node:util';
import { loadSpamAssassin } from '../inference/corpus.js';
import { SpanIndex, detokenize, joinRecords, tokenize } from '../inference/spans.js';
import { mulberry32 } from '../lib/random.js';
import { quantile, zipfSizes } from '../lib/stats.js';

const { values } = parseArgs({ options: { answers: { type: 'string', default: '200' }, 'min-tokens': { type: 'string', default: '8' }, 'baseline-answers': { type: 'string', default: '3' } } });
const answers = Number(values.answers);
const minTokens = Number(values['min-tokens']);
const baselineAnswers = Number(values['baseline-answers']);
if (!Number.isInteger(answers) || answers < 2) throw new Error('--answers must be an integer ≥ 2');
if (!Number.isInteger(minTokens) || minTokens < 1) throw new Error('--min-tokens must be a positive integer');
if (!Number.isInteger(baselineAnswers) || baselineAnswers < 1 || baselineAnswers > answers) throw new Error('--baseline-answers must be an integer in [1, --answers]');

const rand = mulberry32(2026);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const seen = new Set<string>();
const texts = (await loadSpamAssassin()).map((r) => r.text).filter((t) => t.length > 0 && !seen.has(t) && seen.add(t));
const sizes = zipfSizes(texts.length, 1024);
const owner = sizes.flatMap((n, c) => Array.from({ length: n }, () => c));
const records = texts.slice(0, owner.length).map((text, i) => ({ id: i + 1, contributor: '0x' + (owner[i]! + 1).toString(16).padStart(40, '0'), text }));

let t0 = performance.now();
const index = SpanIndex.build(records);
const buildS = (performance.now() - t0) / 1000;
console.log(`datanet: ${records.length} records, ${index.size} tokens, 1,024 contributors; tokenized and suffix-sorted in ${buildS.toFixed(2)} s`);

// novel text: words of the corpus in an order no record has; planted: verbatim record pieces between such text
const words = texts.slice(0, 500).flatMap((t) => t.split(/\s+/).filter((w) => /^[a-z]{3,10}$/.test(w)));
const novel = (n: number) => Array.from({ length: n }, () => pick(words)).join(' ');
type Planted = { record: number; text: string };
const long = records.filter((x) => x.text.length > 400);
const queries: { text: string; planted: Planted[] }[] = [];
for (let a = 0; a < answers; a++) {
  const planted: Planted[] = [];
  let text = novel(30);
  if (a % 2 === 0) {
    for (let k = 0; k < 3; k++) {
      // a piece as a model would repeat it: whole words (a piece cut inside a word tokenizes differently at its edges)
      let r: (typeof records)[number];
      let piece: string;
      do {
        r = pick(long);
        const tokens = tokenize(r.text);
        const n = 16 + Math.floor(rand() * 33);
        const from = Math.floor(rand() * Math.max(1, tokens.length - n));
        const cut = detokenize(tokens.subarray(from, from + n));
        piece = cut.slice(cut.search(/\s/) + 1, cut.search(/\s\S*$/)).trim();
      } while (piece.includes('\uFFFD') || tokenize(piece).length < 12);
      planted.push({ record: r.id, text: piece });
      text += ` ${piece} ${novel(25)}`;
    }
  } else text += ` ${novel(90)}`;
  queries.push({ text, planted });
}

const ms: number[] = [];
let found = 0;
let credited = 0;
let plantedTotal = 0;
let novelSpans = 0;
const results = queries.map((q) => {
  t0 = performance.now();
  const m = index.find(q.text, { minTokens });
  ms.push(performance.now() - t0);
  if (q.planted.length === 0) novelSpans += m.spans.length;
  for (const p of q.planted) {
    plantedTotal++;
    // found: spans cover 90% of its non-blank characters (a token at either edge may merge with the text around it);
    // credited: its record's contributor is among the contributors of those spans (or of a span held too often to list)
    const from = q.text.indexOf(p.text);
    const covered = new Uint8Array(p.text.length);
    const contributors = new Set<string>();
    for (const s of m.spans) {
      const at = q.text.indexOf(s.text, Math.max(0, from - s.text.length));
      if (at < 0 || at >= from + p.text.length || at + s.text.length <= from) continue;
      for (let c = Math.max(at, from); c < Math.min(at + s.text.length, from + p.text.length); c++) covered[c - from] = 1;
      for (const c of s.count > s.occurrences.length ? [records[p.record - 1]!.contributor] : s.contributors) contributors.add(c);
    }
    const blank = (c: number) => /\s/.test(p.text[c]!);
    const nonBlank = [...p.text].filter((_, c) => !blank(c)).length;
    if ([...covered].filter((x, c) => x === 1 && !blank(c)).length >= 0.9 * nonBlank) {
      found++;
      if (contributors.has(records[p.record - 1]!.contributor)) credited++;
    }
  }
  return m;
});
const p50 = quantile(ms, 0.5);
console.log(`lookups: ${answers} answers of ${Math.round(results.reduce((s, m) => s + m.tokens, 0) / answers)} tokens on average, ${results.reduce((s, m) => s + m.spans.length, 0)} spans of ≥ ${minTokens} tokens; p50 ${p50.toFixed(2)} ms, p99 ${quantile(ms, 0.99).toFixed(2)} ms`);
console.log(`planted pieces found: ${found} of ${plantedTotal} (recall ${(found / plantedTotal).toFixed(3)}), credited to their contributor: ${credited}; spans found in novel-only answers: ${novelSpans}`);

// the baseline: each answer position's longest match by scanning every record token
const { tokens } = joinRecords(records);
const scanMs: number[] = [];
for (const q of queries.slice(0, baselineAnswers)) {
  const t = tokenize(q.text);
  t0 = performance.now();
  let spans = 0;
  let keptEnd = 0;
  for (let i = 0; i + minTokens <= t.length; i++) {
    let best = 0;
    for (let j = 0; j < tokens.length; j++) {
      let l = 0;
      while (i + l < t.length && j + l < tokens.length && tokens[j + l] === t[i + l]) l++;
      if (l > best) best = l;
    }
    if (best >= minTokens && i + best > keptEnd) {
      keptEnd = i + best;
      spans++;
    }
  }
  scanMs.push(performance.now() - t0);
  const indexed = index.find(q.text, { minTokens }).spans.length;
  if (spans !== indexed) throw new Error(`the scan found ${spans} spans and the index ${indexed} in the same answer`);
}
const scanP50 = quantile(scanMs, 0.5);
console.log(`baseline, a scan of every record token (${baselineAnswers} answers, the same spans found): p50 ${scanP50.toFixed(0)} ms; the suffix array is ${(scanP50 / quantile(ms.slice(0, baselineAnswers), 0.5)).toFixed(0)}× faster on them`);
console.log(`span_p50_ms=${p50.toFixed(2)}`);
