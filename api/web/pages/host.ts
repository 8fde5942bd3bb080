import { $, ApiError, api, apiKey, el, failed, fillTable, formatOpen, keyForm, status } from './common.js';
import { draw } from './charts.js';

type Stages = { proving: number; proven: number; settled: number; failed: number };
interface Overview {
  host: { id: number; name: string; wallet?: string };
  escrow?: { balance: string; operatorApproved: boolean };
  answersPerSecond: number;
  batches: Stages;
  adapters: { id: string; status: string; datanetId: string; datanetVersion: number; onchainId?: string; answers: number; answersPerSecond: number; batches: Stages; gasPerAnswer?: number }[];
  datanets: { id: string; name: string; contributors: number; pending: number; accepted: number; versions: number }[];
}

const REFRESH_MS = 3000;
let timer: ReturnType<typeof setTimeout> | undefined;
let inFlight = false;

function render(o: Overview): void {
  $('#overview').hidden = false;
  $('#aps').textContent = o.answersPerSecond.toFixed(2);
  $('#queue').textContent = String(o.batches.proving);
  $('#stages').textContent = `${o.batches.proving} / ${o.batches.proven} / ${o.batches.settled} / ${o.batches.failed}`;
  $('#escrow').textContent = o.escrow ? `${formatOpen(o.escrow.balance)}${o.escrow.operatorApproved ? '' : ' (operator not approved)'}` : o.host.wallet ? 'unavailable (chain unreachable)' : 'no wallet linked';
  fillTable(
    $('#adapters tbody'),
    o.adapters.map((a) => [
      a.id,
      a.status,
      el('a', { href: `/datanet.html?id=${encodeURIComponent(a.datanetId)}` }, `${a.datanetId.slice(0, 11)}… v${a.datanetVersion}`),
      a.onchainId ?? 'not registered',
      String(a.answers),
      a.answersPerSecond.toFixed(2),
      String(a.batches.proving),
      String(a.batches.proven),
      String(a.batches.settled),
      a.gasPerAnswer !== undefined ? a.gasPerAnswer.toLocaleString('en-US') : '—',
    ]),
    [4, 5, 6, 7, 8, 9],
  );
  fillTable(
    $('#datanets tbody'),
    o.datanets.map((d) => [el('a', { href: `/datanet.html?id=${encodeURIComponent(d.id)}` }, d.name), String(d.contributors), String(d.pending), String(d.accepted), String(d.versions)]),
    [1, 2, 3, 4],
  );
  draw($<HTMLCanvasElement>('#stages-chart'), {
    type: 'bar',
    data: {
      labels: o.adapters.map((a) => a.id),
      datasets: (['proving', 'proven', 'settled', 'failed'] as const).map((s) => ({ label: s, data: o.adapters.map((a) => a.batches[s]) })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'batches' } } } },
  });
  $('#refreshed').textContent = `host ${o.host.name} · refreshed ${new Date().toLocaleTimeString()}, every ${REFRESH_MS / 1000} s`;
}

/** One refresh at a time, every few seconds while the tab is visible; a refused key stops it (its failures would get this address throttled). */
async function refresh(): Promise<void> {
  clearTimeout(timer);
  if (inFlight) return;
  inFlight = true;
  try {
    const o = await api<Overview>('/overview', { auth: true });
    render(o);
    status('');
  } catch (e) {
    failed(e);
    if (e instanceof ApiError && [401, 403, 429].includes(e.status)) return; // until a new key is entered
  } finally {
    inFlight = false;
  }
  if (!document.hidden) timer = setTimeout(() => void refresh(), REFRESH_MS);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && apiKey()) void refresh();
});
keyForm(() => void refresh());
