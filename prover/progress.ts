import cliProgress from 'cli-progress';
import type { Logger } from 'snarkjs';
import { ENV } from '../lib/config.js';

/**
 * Progress of long build steps: a bar on a terminal, one line per step elsewhere
 * (CI logs). snarkjs reports its own progress as "... 1234/65536" debug lines; the
 * logger below turns those into bar updates.
 */
export interface Step {
  update(done: number, total: number, detail?: string): void;
  done(detail?: string): void;
}

export interface Progress {
  step(name: string): Step;
  log(line: string): void;
}

const FRACTION = /(\d+)\s*\/\s*(\d+)/;

export function consoleProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true && !process.env[ENV.ci];
  return {
    log: (line) => stream.write(line + '\n'),
    step(name) {
      const started = Date.now();
      const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
      if (!tty) {
        stream.write(`… ${name}\n`);
        return {
          update() {},
          done: (detail) => stream.write(`✓ ${name} (${elapsed()})${detail ? ` — ${detail}` : ''}\n`),
        };
      }
      const bar = new cliProgress.SingleBar(
        { format: `{bar} {percentage}% | ${name} {detail}`, stream, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(1, 0, { detail: '' });
      return {
        update(done, total, detail = '') {
          bar.setTotal(Math.max(total, 1));
          bar.update(Math.min(done, total), { detail });
        },
        done(detail) {
          bar.stop();
          stream.write(`✓ ${name} (${elapsed()})${detail ? ` — ${detail}` : ''}\n`);
        },
      };
    },
  };
}

export const silentProgress: Progress = {
  log() {},
  step: () => ({ update() {}, done() {} }),
};

/** A snarkjs logger that feeds "n/m" progress lines into a step. */
export function snarkjsLogger(step: Step): Logger {
  const onLine = (msg: string) => {
    const m = FRACTION.exec(msg);
    if (m) step.update(Number(m[1]), Number(m[2]), msg.replace(FRACTION, '').trim().slice(0, 40));
  };
  return { debug: onLine, info: onLine, warn: () => {}, error: () => {} };
}
