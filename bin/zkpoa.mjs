#!/usr/bin/env node
// The zkpoa CLI entry: registers the TypeScript loader, then runs api/cli.ts.
import { register } from 'tsx/esm/api';

register();
await import('../api/cli.ts');
