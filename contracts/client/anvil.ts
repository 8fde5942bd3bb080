import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { freePort } from '../../lib/net.js';

/** A local anvil chain from the npm package, on 127.0.0.1, stopped by PID. */
export interface LocalChain {
  rpcUrl: string;
  chainId: bigint;
  pid: number;
  stop(): Promise<void>;
}

/** Chain ids of development chains (anvil, hardhat; ganache and geth --dev): their test keys are public. */
export const LOCAL_CHAIN_IDS: readonly bigint[] = [31337n, 1337n];

export const isLocalChain = (chainId: bigint): boolean => LOCAL_CHAIN_IDS.includes(chainId);

/** Anvil's first default account (public test key, funded on every anvil). */
export const ANVIL_DEPLOYER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

/** Anvil's public default keys, accounts 0–9 (each funded with test ETH on every anvil). */
export function anvilAccountKeys(): string[] {
  return [
    ANVIL_DEPLOYER_KEY,
    '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
    '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
    '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
    '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
    '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
    '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
    '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
    '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
    '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6',
  ];
}

/**
 * The native binary from the npm platform package (@foundry-rs/<tool>-<os>-<arch>), so
 * that the PID we hold is anvil's own and stopping it leaves no orphan behind.
 */
export function foundryBinary(tool: 'anvil' | 'forge' | 'cast'): string {
  const require = createRequire(import.meta.url);
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch];
  const os = process.platform === 'win32' ? 'win32' : process.platform;
  try {
    return join(dirname(require.resolve(`@foundry-rs/${tool}-${os}-${arch}/package.json`)), 'bin', tool + (os === 'win32' ? '.exe' : ''));
  } catch {
    throw new Error(`no @foundry-rs/${tool} binary for ${process.platform}/${process.arch}; run npm ci`);
  }
}

export async function startAnvil(opts: { port?: number; chainId?: number; timeoutMs?: number } = {}): Promise<LocalChain> {
  const port = opts.port ?? (await freePort());
  const chainId = opts.chainId ?? 31337;
  const child: ChildProcess = spawn(foundryBinary('anvil'), ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const rpcUrl = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`anvil did not start within ${opts.timeoutMs ?? 30000} ms:\n${out}`)), opts.timeoutMs ?? 30000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited with code ${code}:\n${out}`));
    });
  });
  child.stdout?.removeAllListeners('data');
  child.stdout?.resume();
  return {
    rpcUrl,
    chainId: BigInt(chainId),
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        process.kill(child.pid!, 'SIGTERM');
      }),
  };
}
