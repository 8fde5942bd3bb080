import { $, api, el, failed, fillTable, keyForm, short, status } from './common.js';
import { draw } from './charts.js';

interface Datanet { id: string; name: string; labels: string[] }
interface StoredRecord { id: number; contributor: string; text: string; label: number; status: string }

const form = $<HTMLFormElement>('#datanet-form');
const select = $<HTMLSelectElement>('#datanet-id');
let pending: StoredRecord[] = [];

async function show(id: string): Promise<void> {
  status('reading the datanet…');
  const [d, { contributors }, { versions }, { records }] = await Promise.all([
    api<Datanet>(`/datanets/${id}`, { auth: true }),
    api<{ contributors: { contributor: string; pending: number; accepted: number; rejected: number }[] }>(`/datanets/${id}/contributors`, { auth: true }),
    api<{ versions: { version: number; records: number; root: string; createdAt: string }[] }>(`/datanets/${id}/versions`, { auth: true }),
    api<{ records: StoredRecord[] }>(`/datanets/${id}/records?status=pending&limit=100`, { auth: true }),
  ]);
  pending = records;
  $('#datanet').hidden = false;
  $('#contributor-count').textContent = String(contributors.length);
  $('#accepted').textContent = String(contributors.reduce((s, c) => s + c.accepted, 0));
  $('#pending').textContent = String(contributors.reduce((s, c) => s + c.pending, 0));
  fillTable($('#contributors tbody'), contributors.map((c) => [el('a', { href: `/contributor.html?address=${c.contributor}`, class: 'mono' }, c.contributor), String(c.accepted), String(c.pending), String(c.rejected)]), [1, 2, 3]);
  const largest = contributors.slice(0, 30);
  draw($<HTMLCanvasElement>('#contributors-chart'), {
    type: 'bar',
    data: { labels: largest.map((c) => short(c.contributor)), datasets: [{ label: 'accepted records', data: largest.map((c) => c.accepted) }] },
    options: { plugins: { legend: { display: false } } },
  });
  const decide = (r: StoredRecord, decision: 'accept' | 'reject') =>
    el('button', { type: 'button', class: decision === 'accept' ? '' : 'secondary', 'data-record': String(r.id), 'aria-label': `${decision} record ${r.id}` }, decision);
  fillTable(
    $('#queue tbody'),
    records.map((r) => [String(r.id), short(r.contributor), d.labels[r.label] ?? String(r.label), r.text.slice(0, 140), el('span', {}, decide(r, 'accept'), ' ', decide(r, 'reject'))]),
  );
  for (const b of $('#queue tbody').querySelectorAll<HTMLButtonElement>('button')) {
    b.addEventListener('click', () => void review([Number(b.dataset.record)], b.textContent === 'accept' ? 'accept' : 'reject'));
  }
  for (const id of ['#accept-all', '#reject-all']) $<HTMLButtonElement>(id).disabled = records.length === 0;
  fillTable($('#versions tbody'), versions.map((v) => [String(v.version), String(v.records), el('span', { class: 'mono' }, v.root), new Date(v.createdAt).toLocaleString()]), [0, 1]);
  status(`${d.name}: ${records.length ? `${records.length} records shown for review` : 'nothing awaits review'}`);
}

async function review(ids: number[], decision: 'accept' | 'reject'): Promise<void> {
  try {
    const { reviewed } = await api<{ reviewed: number }>(`/datanets/${select.value}/reviews`, { method: 'POST', auth: true, body: { decision, records: ids } });
    await show(select.value);
    status(`${decision === 'accept' ? 'accepted' : 'rejected'} ${reviewed} records`);
  } catch (e) {
    failed(e);
  }
}

$('#accept-all').addEventListener('click', () => void review(pending.map((r) => r.id), 'accept'));
$('#reject-all').addEventListener('click', () => void review(pending.map((r) => r.id), 'reject'));
form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  history.replaceState(null, '', `?id=${encodeURIComponent(select.value)}`);
  show(select.value).catch(failed);
});
keyForm(() => {
  api<{ datanets: Datanet[] }>('/datanets', { auth: true })
    .then(({ datanets }) => {
      select.replaceChildren(...datanets.map((d) => el('option', { value: d.id }, `${d.name} (${d.id.slice(0, 11)}…)`)));
      const given = new URLSearchParams(location.search).get('id');
      if (given && datanets.some((d) => d.id === given)) select.value = given;
      if (datanets.length) form.requestSubmit();
      else status('this host owns no datanets');
    })
    .catch(failed);
});
