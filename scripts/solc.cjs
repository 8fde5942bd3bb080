#!/usr/bin/env node
// A solc executable for forge, over the npm `solc` package (forge cannot download
// compilers on this network). Handles what forge calls: `--version` and
// `--standard-json` (input on stdin, output on stdout; other flags are ignored
// because imports are resolved below, relative to the working directory).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const solc = require('solc');

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc shim: only --version and --standard-json are supported\n');
  process.exit(2);
}

const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === '--base-path' || args[i] === '--include-path') && args[i + 1]) roots.push(path.resolve(args[i + 1]));
}

function findImports(p) {
  for (const root of roots) {
    const full = path.resolve(root, p);
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, 'utf8') };
  }
  return { error: `File not found: ${p}` };
}

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const output = solc.compile(Buffer.concat(chunks).toString('utf8'), { import: findImports });
  // Exit only once stdout has drained: forge reads from a pipe, and exiting early cuts the JSON at 64 KiB.
  process.stdout.write(output, () => process.exit(0));
});
