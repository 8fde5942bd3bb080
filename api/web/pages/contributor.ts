import { Interface } from 'ethers';
import { $, api, failed, fillTable, formatOpen, short, status } from './common.js';
import { draw, openFloat } from './charts.js';

interface Position {
  adapterId: string;
  version: number;
  leaf: number;
  cumulative: string;
  claimed?: string;
  batches: { first: number; count: number; payout: string; cumulative: string; tx: string; settledAt?: string }[];
  answers: { number: number; share: string }[];
}
interface LedgerPosition { adapterId: string; version: number; leaf: number; payee: string; cumulative: string; siblings: string[]; root: string }
interface Deployment { chainId: string; settlement: string; open: string; rpc?: string }
interface Eip1193 { request(args: { method: string; params?: unknown[] }): Promise<unknown> }

const ethereum = (window as unknown as { ethereum?: Eip1193 }).ethereum;
const settlementAbi = new Interface([
  'function claim(uint256 adapterId, uint32 version_, uint256 leaf, address payee, uint256 cumulative, uint256[] siblings)',
  'function withdraw()',
]);
const form = $<HTMLFormElement>('#address-form');
const input = $<HTMLInputElement>('#address');

async function show(address: string): Promise<void> {
  status(`reading the earnings of ${address}…`);
  const [{ positions }, deployment] = await Promise.all([api<{ positions: Position[] }>(`/earnings/${address}`), api<Deployment>('/deployment').catch(() => undefined)]);
  const earned = positions.reduce((s, p) => s + BigInt(p.cumulative), 0n);
  const claimed = positions.reduce((s, p) => s + BigInt(p.claimed ?? '0'), 0n);
  $('#results').hidden = false;
  $('#earned').textContent = formatOpen(earned);
  $('#claimed').textContent = formatOpen(claimed);
  const unclaimed = $('#unclaimed');
  unclaimed.textContent = formatOpen(earned - claimed);
  unclaimed.dataset.wei = (earned - claimed).toString();
  $('#positions-count').textContent = String(positions.length);
  fillTable(
    $('#positions tbody'),
    positions.map((p) => [p.adapterId, String(p.version), String(p.leaf), formatOpen(p.cumulative), formatOpen(p.claimed ?? '0'), formatOpen(BigInt(p.cumulative) - BigInt(p.claimed ?? '0')), String(p.batches.length)]),
    [3, 4, 5, 6],
  );

  // earnings over time: each position's cumulative amount after each settled batch
  const times = [...new Set(positions.flatMap((p) => p.batches.map((b) => b.settledAt ?? '')))].sort();
  draw($<HTMLCanvasElement>('#earnings-chart'), {
    type: 'line',
    data: {
      labels: times.map((t) => (t ? new Date(t).toLocaleTimeString() : '?')),
      datasets: positions.map((p) => ({
        label: `adapter ${p.adapterId} v${p.version}`,
        data: times.map((t) => {
          const upTo = p.batches.filter((b) => (b.settledAt ?? '') <= t).at(-1);
          return upTo ? openFloat(upTo.cumulative) : 0;
        }),
      })),
    },
    options: { scales: { y: { title: { display: true, text: 'OPEN earned' } } } },
  });
  // its share of each answer's pool
  const numbers = [...new Set(positions.flatMap((p) => p.answers.map((a) => a.number)))].sort((a, b) => a - b);
  draw($<HTMLCanvasElement>('#shares-chart'), {
    type: 'bar',
    data: {
      labels: numbers.map(String),
      datasets: positions.map((p) => {
        const by = new Map(p.answers.map((a) => [a.number, openFloat(a.share)]));
        return { label: `adapter ${p.adapterId} v${p.version}`, data: numbers.map((n) => by.get(n) ?? 0) };
      }),
    },
    options: { scales: { x: { title: { display: true, text: 'receipt number' } }, y: { title: { display: true, text: 'OPEN per answer' } } } },
  });
  const top = positions.flatMap((p) => p.answers.map((a) => ({ ...a, p }))).sort((a, b) => (BigInt(b.share) > BigInt(a.share) ? 1 : BigInt(b.share) < BigInt(a.share) ? -1 : 0)).slice(0, 10);
  fillTable($('#top-answers tbody'), top.map((a) => [a.p.adapterId, String(a.p.version), String(a.number), formatOpen(a.share)]), [2, 3]);

  // claiming: the wallet (EIP-1193) where there is one, and always the exact command
  const origin = location.origin;
  $('#claim-command').textContent = [
    '# your wallet’s private key, read without echo (never on a command line)',
    'read -rs ZKPOA_CONTRIBUTOR_KEY && export ZKPOA_CONTRIBUTOR_KEY',
    `zkpoa claim --url ${origin} --rpc ${deployment?.rpc ?? '<an RPC of chain ' + (deployment?.chainId ?? '?') + '>'} --deployment ${origin}/v1/deployment`,
  ].join('\n');
  const claim = $<HTMLButtonElement>('#claim');
  claim.hidden = !ethereum || !deployment;
  claim.disabled = earned - claimed === 0n;
  claim.onclick = () => void claimWithWallet(address, deployment!).catch(failed);
  status(positions.length ? `${positions.length} ledger positions` : 'no settled earnings for this address yet');
}

async function claimWithWallet(address: string, deployment: Deployment): Promise<void> {
  const [from] = (await ethereum!.request({ method: 'eth_requestAccounts' })) as string[];
  if (!from) throw new Error('the wallet gave no account');
  // the claims go to this server's contract on its chain: never to an address that means something else on the wallet's current chain
  const chainHex = '0x' + BigInt(deployment.chainId).toString(16);
  if (BigInt((await ethereum!.request({ method: 'eth_chainId' })) as string) !== BigInt(deployment.chainId)) {
    await ethereum!.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: chainHex }] });
    if (BigInt((await ethereum!.request({ method: 'eth_chainId' })) as string) !== BigInt(deployment.chainId)) throw new Error(`switch the wallet to chain ${deployment.chainId} first`);
  }
  const { positions } = await api<{ positions: LedgerPosition[] }>(`/ledger/${address}`);
  // read again, not taken from the page: a claim made since it loaded would make this one a transaction that pays nothing
  const { positions: earned } = await api<{ positions: Position[] }>(`/earnings/${address}`);
  const owed = positions.filter((p) => {
    const e = earned.find((x) => x.adapterId === p.adapterId && x.version === p.version && x.leaf === p.leaf);
    return BigInt(p.cumulative) > BigInt(e?.claimed ?? '0');
  });
  for (const [i, p] of owed.entries()) {
    status(`claim ${i + 1} of ${owed.length}: confirm in your wallet…`);
    const data = settlementAbi.encodeFunctionData('claim', [p.adapterId, p.version, p.leaf, p.payee, p.cumulative, p.siblings]);
    await waitFor((await ethereum!.request({ method: 'eth_sendTransaction', params: [{ from, to: deployment.settlement, data }] })) as string);
  }
  if (from.toLowerCase() === address.toLowerCase()) {
    status('withdraw: confirm in your wallet…');
    await waitFor((await ethereum!.request({ method: 'eth_sendTransaction', params: [{ from, to: deployment.settlement, data: settlementAbi.encodeFunctionData('withdraw', []) }] })) as string);
  }
  await show(address);
  status(`claimed ${owed.length} positions`);
}

const TX_WAIT_MS = 5 * 60_000;
async function waitFor(tx: string): Promise<void> {
  for (const end = Date.now() + TX_WAIT_MS; Date.now() < end; ) {
    const r = (await ethereum!.request({ method: 'eth_getTransactionReceipt', params: [tx] })) as { status: string } | null;
    if (r) {
      if (r.status !== '0x1') throw new Error(`transaction ${short(tx)} failed`);
      return;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`transaction ${short(tx)} was not mined within ${TX_WAIT_MS / 60_000} minutes; look it up in your wallet`);
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const a = input.value.trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(a)) return failed(new Error('an address is 0x and 40 hex digits'));
  history.replaceState(null, '', `?address=${a}`);
  show(a).catch(failed);
});
const connect = $<HTMLButtonElement>('#connect');
connect.hidden = !ethereum;
connect.addEventListener('click', () => {
  ethereum!
    .request({ method: 'eth_requestAccounts' })
    .then((accounts) => {
      input.value = (accounts as string[])[0] ?? '';
      form.requestSubmit();
    })
    .catch(failed);
});
const given = new URLSearchParams(location.search).get('address');
if (given) {
  input.value = given;
  form.requestSubmit();
}

