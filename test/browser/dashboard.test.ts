import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { earnings } from '../../api/contributor.js';
import { BUILD_DIR, REPO_ROOT } from '../../lib/config.js';
import { TEST_VARIANT } from '../helpers/fixtures.js';
import { PRICE, linkSignature, mailRecords, poll, startStack, type Stack } from '../helpers/stack.js';

/**
 * The dashboard in Debian's Chromium (driven by playwright-core, never a downloaded browser)
 * against a real server on a real anvil chain with answers proven and settled: every page
 * with real data, the audit button on a settled and on a tampered receipt, a contributor's
 * unclaimed amount against the chain, the claim command the page prints, the wallet's claim
 * button (EIP-1193, the test's provider signing with anvil's unlocked account), a phone's
 * width. Screenshots of each page go to build/screenshots for a person to look at.
 */
const CHROMIUM = process.env.ZKPOA_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
// .ci/run installs chromium and sets ZKPOA_REQUIRE_BROWSER: there a missing browser fails instead of skipping
if (!hasChromium && process.env.ZKPOA_REQUIRE_BROWSER) throw new Error(`${CHROMIUM} is missing and ZKPOA_REQUIRE_BROWSER is set`);
if (!hasChromium) console.warn(`${CHROMIUM} is missing: the browser tests are skipped (apt-get install chromium; .ci/run installs it)`);
/** how long a page may take to show what it fetched, on a busy 2-core machine */
const SHOWN = { timeout: 20_000 };
const SHOTS = join(BUILD_DIR, 'screenshots');
const XSS = '<img src=x onerror="document.title=\'pwned\'">';
const run = promisify(execFile);

describe.skipIf(!hasChromium)('the dashboard in a real browser', () => {
  let stack: Stack;
  let url: string;
  let browser: Browser;
  let receipts: { receipt: string; number: number }[];
  let datanetId: string;
  const M = TEST_VARIANT.params.answers!;

  beforeAll(async () => {
    stack = await startStack();
    const { app, key, hostWallet, contributors } = stack;
    const auth = { authorization: `Bearer ${key}` };
    const call = async <T>(method: 'GET' | 'POST' | 'PUT', path: string, payload?: object): Promise<T> => {
      const res = await app.inject({ method, url: `/v1${path}`, headers: auth, ...(payload ? { payload } : {}) });
      if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
      return res.json() as T;
    };
    const me = await call<{ id: number }>('GET', '/host');
    await call('PUT', '/host/wallet', { wallet: hostWallet.address, signature: await linkSignature(stack, me.id, hostWallet) });
    datanetId = (await call<{ id: string }>('POST', '/datanets', { name: 'mail', labels: ['ham', 'spam'] })).id;
    const added = await call<{ records: { id: number }[] }>('POST', `/datanets/${datanetId}/records`, { records: await mailRecords(contributors.map((w) => w.address), 150) });
    await call('POST', `/datanets/${datanetId}/reviews`, { decision: 'accept', records: added.records.map((r) => r.id) });
    await call('POST', `/datanets/${datanetId}/versions`);
    // a few more records wait in the review queue, for the datanet page
    await call('POST', `/datanets/${datanetId}/records`, { records: (await mailRecords(contributors.map((w) => w.address), 154)).slice(150) });
    // a datanet whose name and record are markup: the pages must show them as text
    const hostile = (await call<{ id: string }>('POST', '/datanets', { name: XSS, labels: ['ham', 'spam'] })).id;
    await call('POST', `/datanets/${hostile}/records`, { records: [{ contributor: contributors[0]!.address, text: XSS, label: 'spam' }] });
    await call('POST', '/adapters', { id: 'mail', datanetId, version: 1, hyper: { iterations: 200 } });
    const ready = await poll(() => call<{ status: string }>('GET', '/adapters/mail'), (a) => a.status !== 'training');
    expect(ready.status).toBe('ready');
    await call('POST', '/adapters/mail/register', { price: PRICE.toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 7000 });
    receipts = (await call<{ results: { receipt: string; number: number }[] }>('POST', '/infer', { requests: Array.from({ length: M + 2 }, (_, i) => ({ adapter: 'mail', text: `WIN ${i}: a free prize, click the link now` })) })).results;
    await call('POST', '/adapters/mail/prove');
    const batches = () => call<{ batches: { status: string }[] }>('GET', '/adapters/mail/batches');
    expect((await poll(batches, (b) => b.batches.length === 2 && b.batches.every((x) => x.status === 'proven'))).batches).toHaveLength(2);
    expect((await call<{ settled: unknown[] }>('POST', '/adapters/mail/settle')).settled).toHaveLength(2);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // the machine's network is closed: no background connections, no sandbox (root in CI)
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 600_000);

  // what the pages threw or logged as errors; a refused request (the wrong key) is not a page error
  const pageErrors: string[] = [];
  afterEach(() => {
    expect(pageErrors.filter((e) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(e))).toEqual([]);
    pageErrors.length = 0;
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.service.close();
    stack?.db.close();
    await stack?.chain.stop();
  });

  /** A page in a fresh context (its own sessionStorage) at a desktop or a phone's width; browser errors fail the test. */
  async function open(path: string, opts: { phone?: boolean; key?: boolean; init?: (ctx: BrowserContext) => Promise<void> } = {}): Promise<Page> {
    const ctx = await browser.newContext({ viewport: opts.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 } });
    await opts.init?.(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => void (m.type() === 'error' && pageErrors.push(m.text())));
    await page.goto(`${url}${path}`);
    if (opts.key) {
      // typed into the form and kept in the tab's session, never in the URL
      await page.getByRole('textbox', { name: /API key/ }).fill(stack.key);
      await page.getByRole('button', { name: 'Use key' }).click();
      expect(page.url()).not.toContain(stack.key);
    }
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

  it('the contributor page shows what the chain owes an address, and the claim command it prints claims it', async () => {
    const [contributor] = stack.contributors;
    const page = await open('/contributor.html');
    await page.getByLabel('Payout address').fill(contributor!.address);
    await page.getByLabel('Payout address').press('Enter'); // the form works from the keyboard
    await expect.poll(() => page.locator('#unclaimed').getAttribute('data-wei'), SHOWN).not.toBeNull();
    const onChain = await earnings(stack.client, url, contributor!.address);
    expect(onChain.positions.every((p) => p.verified)).toBe(true);
    const owed = onChain.positions.reduce((s, p) => s + p.cumulative - p.claimed, 0n);
    expect(owed).toBeGreaterThan(0n);
    expect(BigInt((await page.locator('#unclaimed').getAttribute('data-wei'))!)).toBe(owed);
    expect(await page.locator('#positions tbody tr').count()).toBe(1);
    expect(await page.locator('#top-answers tbody tr').count()).toBe(M + 2);
    for (const chart of ['#earnings-chart', '#shares-chart']) expect((await page.locator(chart).boundingBox())!.height).toBeGreaterThan(100);
    await shot(page, 'contributor');

    // the printed command, as a contributor would run it (the key in the environment, never in the command)
    const command = (await page.locator('#claim-command').textContent())!.split('\n').find((l) => l.startsWith('zkpoa claim'))!;
    expect(command).toContain(`--rpc ${stack.chain.rpcUrl}`);
    expect(command).not.toMatch(/0x[0-9a-f]{64}/i);
    const args = command.split(/\s+/).slice(1);
    const { stdout } = await run(process.execPath, [join(REPO_ROOT, 'bin', 'zkpoa.mjs'), ...args], { env: { ...process.env, ZKPOA_CONTRIBUTOR_KEY: contributor!.privateKey }, cwd: REPO_ROOT });
    expect(stdout).toMatch(/^claimed /);
    expect(await stack.client.open.getFunction('balanceOf')(contributor!.address)).toBe(owed);
    await page.reload();
    await expect.poll(() => page.locator('#unclaimed').getAttribute('data-wei'), SHOWN).toBe('0');
    await page.close();
  }, 120_000);

  it('the wallet button claims through the page’s EIP-1193 provider', async () => {
    // the remaining contributor with the most to claim (one may have influenced no answer positively)
    const owed = async (w: { address: string }) => (await earnings(stack.client, url, w.address)).positions.reduce((s, p) => s + p.cumulative - p.claimed, 0n);
    const [, a, b] = stack.contributors;
    const wallet = (await owed(a!)) >= (await owed(b!)) ? a! : b!;
    const owedBefore = await owed(wallet);
    expect(owedBefore).toBeGreaterThan(0n);
    const page = await open(`/contributor.html?address=${wallet.address}`, {
      init: async (ctx) => {
        // the wallet: anvil's account is unlocked, so the provider forwards the page's requests to the chain as they are
        await ctx.exposeFunction('walletRequest', async (method: string, params: unknown[]) => {
          if (method === 'eth_requestAccounts') return [wallet.address];
          const res = await fetch(stack.chain.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: params ?? [] }) });
          const body = (await res.json()) as { result?: unknown; error?: { message: string } };
          if (body.error) throw new Error(body.error.message);
          return body.result;
        });
        await ctx.addInitScript(() => {
          const w = window as unknown as { ethereum: unknown; walletRequest: (m: string, p?: unknown[]) => Promise<unknown> };
          w.ethereum = { request: ({ method, params }: { method: string; params?: unknown[] }) => w.walletRequest(method, params ?? []) };
        });
      },
    });
    await expect.poll(() => page.locator('#unclaimed').getAttribute('data-wei'), SHOWN).toBe(owedBefore.toString());
    await page.getByRole('button', { name: 'Claim with wallet' }).click();
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 30_000 }).toMatch(/claimed 1 positions/);
    expect(await page.locator('#unclaimed').getAttribute('data-wei')).toBe('0');
    expect(await stack.client.open.getFunction('balanceOf')(wallet.address)).toBe(owedBefore);
    await page.close();
  }, 120_000);

  it('the host page shows the pipeline: adapters, batches by stage, gas per answer, escrow', async () => {
    const page = await open('/host.html', { key: true });
    await expect.poll(() => page.locator('#adapters tbody tr').count(), SHOWN).toBe(1);
    const row = (await page.locator('#adapters tbody tr td').allTextContents()).map((s) => s.trim());
    expect(row[0]).toBe('mail');
    expect(row[4]).toBe(String(M + 2)); // answers
    expect(row[8]).toBe('2'); // settled batches
    expect(Number(row[9]!.replace(/,/g, ''))).toBeGreaterThan(0); // gas per answer
    const escrow = await stack.client.escrowOf(stack.hostWallet.address);
    expect(await page.locator('#escrow').textContent()).toContain(`${escrow / 10n ** 18n}.${((escrow % 10n ** 18n) / 10n ** 12n).toString().padStart(6, '0')} OPEN`);
    expect(await page.locator('#datanets tbody tr').count()).toBe(2);
    await shot(page, 'host');
    // live: a new answer shows without a reload
    await stack.app.inject({ method: 'POST', url: '/v1/infer', headers: { authorization: `Bearer ${stack.key}` }, payload: { requests: [{ adapter: 'mail', text: 'one more answer' }] } });
    await expect.poll(async () => (await page.locator('#adapters tbody tr td').nth(4).textContent())?.trim(), SHOWN).toBe(String(M + 3));
    // a wrong key is refused in words
    const wrong = await open('/host.html');
    await wrong.getByRole('textbox', { name: /API key/ }).fill('zk_1_not-a-key');
    await wrong.getByRole('button', { name: 'Use key' }).click();
    await expect.poll(() => wrong.locator('#status').textContent(), SHOWN).toMatch(/ZKPOA_ERR_UNAUTHORIZED/);
    // and refused the same way through the API: no key, or another host's key, sees nothing of this host's
    expect((await stack.app.inject({ method: 'GET', url: '/v1/overview' })).statusCode).toBe(401);
    const theirs = (await stack.app.inject({ method: 'GET', url: '/v1/overview', headers: { authorization: `Bearer ${stack.other.key}` } })).json() as { adapters: unknown[]; datanets: unknown[] };
    expect(theirs).toMatchObject({ adapters: [], datanets: [] });
    await wrong.close();
    await page.close();
  }, 60_000);

  it('the receipt page shows the split, batch and transaction; its audit passes, and fails once the receipt is tampered with', async () => {
    const { receipt } = receipts[M + 1]!;
    const page = await open(`/receipt.html?id=${receipt}`, { key: true });
    await expect.poll(() => page.locator('#batch-status').textContent(), SHOWN).toBe('settled');
    const api = (await stack.app.inject({ method: 'GET', url: `/v1/receipts/${receipt}`, headers: { authorization: `Bearer ${stack.key}` } })).json() as { split: { share: string }[] };
    expect(api.split).toHaveLength(3); // every contributor of the index, its score and share
    const sharing = api.split.filter((x) => BigInt(x.share) > 0n);
    expect(sharing.length).toBeGreaterThan(0);
    expect(await page.locator('#split tbody tr').count()).toBe(sharing.length); // the page lists those with a share
    expect(await page.locator('#batch').textContent()).toMatch(/settlement transaction\s*0x[0-9a-f]{64}/);
    await page.getByRole('button', { name: 'Audit' }).click();
    await expect.poll(() => page.locator('#audit-result').textContent(), { timeout: 60_000 }).toMatch(/every check passed \(\d+\)/);
    expect(await page.locator('#checks tbody tr').count()).toBeGreaterThanOrEqual(7);
    await shot(page, 'receipt');

    stack.db.prepare("UPDATE receipts SET input = input || ' (edited)' WHERE id = ?").run(receipt);
    try {
      await page.getByRole('button', { name: 'Audit' }).click();
      await expect.poll(() => page.locator('#audit-result').textContent(), { timeout: 60_000 }).toMatch(/checks failed/);
      expect(await page.locator('#checks').textContent()).toMatch(/receipt in its batch\s*FAILED/);
    } finally {
      stack.db.prepare("UPDATE receipts SET input = substr(input, 1, length(input) - length(' (edited)')) WHERE id = ?").run(receipt);
    }
    await page.close();
  }, 180_000);

  it('the datanet page shows records by contributor, published versions, and reviews the queue', async () => {
    const page = await open(`/datanet.html?id=${datanetId}`, { key: true });
    await expect.poll(() => page.locator('#contributors tbody tr').count(), SHOWN).toBe(3);
    expect(await page.locator('#versions tbody tr').count()).toBe(1);
    expect(await page.locator('#versions').textContent()).toMatch(/0x[0-9a-f]{64}/);
    expect(await page.locator('#queue tbody tr').count()).toBe(4);
    await shot(page, 'datanet');
    // markup in a datanet's name and records is text, never HTML
    const hostile = await page.locator('#datanet-id option').filter({ hasText: 'onerror' }).getAttribute('value');
    await page.locator('#datanet-id').selectOption(hostile!);
    await page.getByRole('button', { name: 'Show datanet' }).click();
    await expect.poll(() => page.locator('#queue tbody tr').count(), SHOWN).toBe(1);
    expect(await page.locator('#queue tbody').textContent()).toContain(XSS);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.title()).not.toBe('pwned');
    await page.locator('#datanet-id').selectOption(datanetId);
    await page.getByRole('button', { name: 'Show datanet' }).click();
    await expect.poll(() => page.locator('#queue tbody tr').count(), SHOWN).toBe(4);
    await page.getByRole('button', { name: 'Accept these' }).click();
    await expect.poll(() => page.locator('#status').textContent(), SHOWN).toBe('accepted 4 records');
    expect(await page.locator('#queue tbody tr').count()).toBe(0);
    await page.close();
  }, 60_000);

  it('every page fits a phone’s width', async () => {
    const { receipt } = receipts[0]!;
    for (const [name, path, key] of [
      ['contributor', `/contributor.html?address=${stack.contributors[2]!.address}`, false],
      ['host', '/host.html', true],
      ['receipt', `/receipt.html?id=${receipt}`, true],
      ['datanet', `/datanet.html?id=${datanetId}`, true],
    ] as const) {
      const page = await open(path, { phone: true, key });
      await page.waitForFunction(() => !document.querySelector('main section[hidden]'));
      expect(await noHorizontalScroll(page), name).toBe(true);
      await shot(page, `${name}-phone`);
      await page.close();
    }
  }, 120_000);
});
