import { JsonRpcProvider } from 'ethers';

/**
 * A JSON-RPC provider for scripts and tests. ethers caches identical requests for
 * 250 ms by default, which returns a stale pending nonce to back-to-back transactions
 * from one wallet; this client sends few requests, so the cache is turned off.
 */
export function rpcProvider(url: string): JsonRpcProvider {
  return new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
}
