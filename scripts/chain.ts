/**
 * npm run chain -- [--port 8545]
 * A local anvil (from npm) on 127.0.0.1 until Ctrl-C. Prints the RPC URL and the
 * public anvil test keys' first account.
 */
import { parseArgs } from 'node:util';
import { startAnvil } from '../contracts/client/anvil.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8545' } } });
const chain = await startAnvil({ port: Number(values.port) });
console.log(`anvil listening on ${chain.rpcUrl} (chain id ${chain.chainId}, pid ${chain.pid}); Ctrl-C stops it`);
const stop = async () => {
  await chain.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await new Promise(() => {});
