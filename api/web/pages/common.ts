/** What every dashboard page shares: the API, the API key (kept in this tab's session only), formatting, status. */

export const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
  const e = document.querySelector<T>(selector);
  if (!e) throw new Error(`the page has no ${selector}`);
  return e;
};

/** An element with text content or children; attributes set as given. */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** wei as OPEN with up to 6 decimals (exact digits, no float rounding of large amounts) */
export function formatOpen(wei: string | bigint): string {
  const w = BigInt(wei);
  const whole = w / 10n ** 18n;
  const frac = ((w % 10n ** 18n) / 10n ** 12n).toString().padStart(6, '0');
  return `${whole.toLocaleString('en-US')}.${frac} OPEN`;
}

export const short = (hex: string) => (hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex);

const KEY = 'zkpoa.apiKey';
/** The host's API key: entered in a form, kept in sessionStorage (this tab), never put in a URL. */
export const apiKey = () => sessionStorage.getItem(KEY);

/** Wires the page's API key form; `ready` runs once a key is there (now, if the tab has one). */
export function keyForm(ready: () => void): void {
  const form = $<HTMLFormElement>('#key-form');
  const input = $<HTMLInputElement>('#api-key');
  // with a key in the tab, the field says so (the key itself is never shown again)
  const mark = () => (input.placeholder = apiKey() ? 'a key is in use in this tab' : 'zk_…');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (input.value.trim()) sessionStorage.setItem(KEY, input.value.trim());
    input.value = '';
    mark();
    ready();
  });
  mark();
  $('#forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    location.reload();
  });
  if (apiKey()) ready();
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A call to this server's /v1 API, with the API key when the route needs one. */
export async function api<T>(path: string, opts: { method?: string; body?: unknown; auth?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (opts.auth) {
    const key = apiKey();
    if (!key) throw new ApiError(401, 'ZKPOA_ERR_UNAUTHORIZED', 'enter your API key first');
    headers.authorization = `Bearer ${key}`;
  }
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/v1${path}`, { method: opts.method ?? 'GET', headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new ApiError(res.status, json.error?.code ?? `HTTP ${res.status}`, json.error?.message ?? res.statusText);
  return json;
}

/** The page's live status line (an ARIA live region): progress, or the error in words. */
export function status(message: string, error = false): void {
  const s = $('#status');
  s.textContent = message;
  s.classList.toggle('error', error);
}

export const failed = (e: unknown) => status(e instanceof ApiError ? `${e.message} (${e.code})` : String((e as Error).message ?? e), true);

/** A table body filled with rows of cells (strings, or nodes for links and buttons). */
export function fillTable(tbody: HTMLElement, rows: (Node | string)[][], numeric: number[] = []): void {
  tbody.replaceChildren(...rows.map((r) => el('tr', {}, ...r.map((c, i) => el('td', numeric.includes(i) ? { class: 'num' } : {}, c)))));
}
