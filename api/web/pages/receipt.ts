import { $, api, el, failed, fillTable, keyForm, formatOpen, status } from './common.js';
import { draw, openFloat } from './charts.js';

interface ReceiptView {
  id: string;
  number: number;
  adapter: string;
  /** a classifier's label, or a language model's generated text */
  answer: { label: string; probabilities: number[] } | { text: string; tokens: number; finish: string };
  batch?: { id: string; version: number; first: number; count: number; status: string; job: { status: string }; paid: string; receiptsRoot: string; oldRoot: string; newRoot: string; settleTx?: string };
  split?: { payee: string; score: string; share: string }[];
  proof?: { proof: unknown; publicSignals: string[] };
}

const form = $<HTMLFormElement>('#receipt-form');
const input = $<HTMLInputElement>('#receipt-id');
let shown: string | undefined; // the receipt on screen: what Audit replays, whatever the field holds now

async function show(id: string): Promise<void> {
  status(`reading receipt ${id}…`);
  const r = await api<ReceiptView>(`/receipts/${id}`, { auth: true });
  shown = r.id;
  $('#receipt').hidden = false;
  $('#answer').textContent = 'label' in r.answer ? `${r.answer.label} (${(Math.max(...r.answer.probabilities) * 100).toFixed(1)}%)` : `${r.answer.text} (${r.answer.tokens} tokens generated)`;
  $('#number').textContent = `${r.adapter} · ${r.number}`;
  $('#batch-status').textContent = r.batch ? r.batch.status : 'not batched yet';
  const split = (r.split ?? []).filter((s) => BigInt(s.share) > 0n).sort((a, b) => (BigInt(b.share) > BigInt(a.share) ? 1 : -1));
  $('#split-note').textContent = `${split.length} of ${r.split?.length ?? 0} contributors have a share of this answer${split.length > 30 ? '; the chart shows the 30 largest' : ''}.`;
  fillTable($('#split tbody'), split.map((s) => [el('a', { href: `/contributor.html?address=${s.payee}`, class: 'mono' }, s.payee), s.score, formatOpen(s.share)]), [1, 2]);
  draw($<HTMLCanvasElement>('#split-chart'), {
    type: 'bar',
    data: { labels: split.slice(0, 30).map((s) => `${s.payee.slice(0, 8)}…`), datasets: [{ label: 'share (OPEN)', data: split.slice(0, 30).map((s) => openFloat(s.share)) }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } } },
  });
  const b = r.batch;
  fillTable(
    $('#batch tbody'),
    b
      ? [
          ['batch', `${b.id} (version ${b.version}, receipts ${b.first}…${b.first + b.count - 1})`],
          ['proof job', b.job.status],
          ['paid to contributors', formatOpen(b.paid)],
          ['receipts root', b.receiptsRoot],
          ['ledger root before → after', `${b.oldRoot} → ${b.newRoot}`],
          ['proof', r.proof ? `Groth16, ${r.proof.publicSignals.length} public signals` : 'not made yet'],
          ['settlement transaction', b.settleTx ?? 'not settled yet'],
        ]
      : [['batch', 'not batched yet']],
  );
  fillTable($('#checks tbody'), []);
  $('#audit-result').textContent = '';
  status('');
}

$('#audit').addEventListener('click', () => {
  const id = shown;
  if (!id) return;
  $('#audit-result').textContent = 'auditing…';
  api<{ ok: boolean; checks: { name: string; ok: boolean; detail: string }[] }>(`/audit/${id}`, { method: 'POST', auth: true })
    .then((a) => {
      const result = $('#audit-result');
      result.textContent = a.ok ? `every check passed (${a.checks.length})` : `${a.checks.filter((c) => !c.ok).length} of ${a.checks.length} checks failed`;
      result.className = a.ok ? 'ok' : 'bad';
      fillTable($('#checks tbody'), a.checks.map((c) => [c.name, el('span', { class: c.ok ? 'ok' : 'bad' }, c.ok ? 'passed' : 'FAILED'), c.detail]));
    })
    .catch((e) => {
      $('#audit-result').textContent = '';
      failed(e);
    });
});

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = input.value.trim();
  if (!/^rc_[0-9a-f-]{36}$/.test(id)) return failed(new Error('a receipt id is rc_ and a UUID'));
  history.replaceState(null, '', `?id=${id}`);
  show(id).catch(failed);
});
keyForm(() => {
  const given = new URLSearchParams(location.search).get('id');
  if (given && !input.value) input.value = given;
  if (input.value) form.requestSubmit();
});
