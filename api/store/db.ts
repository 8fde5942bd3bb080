import Database from 'better-sqlite3';
import { JOBS_MIGRATION } from './jobs.js';

/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode, with versioned
 * migrations applied in order inside one transaction each. Tables grow by new
 * migrations only; an applied migration is never edited.
 */
export type Db = Database.Database;

interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'hosts and datanets',
    sql: `
      CREATE TABLE hosts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash BLOB NOT NULL,        -- sha256 of the API key's secret part
        created_at TEXT NOT NULL
      );
      CREATE TABLE datanets (
        id TEXT PRIMARY KEY,
        owner_host INTEGER NOT NULL REFERENCES hosts(id),
        name TEXT NOT NULL,
        labels TEXT NOT NULL,          -- JSON array of label names
        visibility TEXT NOT NULL CHECK (visibility IN ('public', 'owner')),
        max_records INTEGER NOT NULL,
        max_record_bytes INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        datanet_id TEXT NOT NULL REFERENCES datanets(id),
        contributor TEXT NOT NULL,     -- payout address, lower-case hex
        text TEXT NOT NULL,
        label INTEGER NOT NULL,
        content_hash TEXT NOT NULL,    -- sha256 of the normalized text and label
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
        submitted_by INTEGER NOT NULL REFERENCES hosts(id),
        created_at TEXT NOT NULL,
        UNIQUE (datanet_id, content_hash)
      );
      CREATE INDEX records_by_status ON records (datanet_id, status, id);
      CREATE TABLE datanet_versions (
        datanet_id TEXT NOT NULL REFERENCES datanets(id),
        version INTEGER NOT NULL,
        root TEXT NOT NULL,            -- Merkle root of the accepted records, hex
        record_ids TEXT NOT NULL,      -- JSON array, leaf order
        created_at TEXT NOT NULL,
        PRIMARY KEY (datanet_id, version)
      );
    `,
  },
  { version: 2, name: 'durable jobs', sql: JOBS_MIGRATION },
  {
    version: 3,
    name: 'adapters and receipts',
    sql: `
      CREATE TABLE adapters (
        id TEXT PRIMARY KEY,
        owner_host INTEGER NOT NULL REFERENCES hosts(id),
        datanet_id TEXT NOT NULL REFERENCES datanets(id),
        datanet_version INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('training', 'ready', 'failed')),
        job_id TEXT NOT NULL,
        spec TEXT NOT NULL,            -- the fine-tuning spec (JSON, without records)
        created_at TEXT NOT NULL
      );
      CREATE TABLE receipts (
        id TEXT PRIMARY KEY,
        adapter_id TEXT NOT NULL REFERENCES adapters(id),
        host INTEGER NOT NULL REFERENCES hosts(id),
        input_hash TEXT NOT NULL,      -- sha256 of the input text
        input TEXT NOT NULL,           -- kept for auditor replay
        output TEXT NOT NULL,          -- JSON: label, probabilities
        created_at TEXT NOT NULL
      );
      CREATE INDEX receipts_by_adapter ON receipts (adapter_id, created_at);
    `,
  },
  {
    version: 4,
    name: 'attribution indexes',
    sql: `
      CREATE TABLE attribution_indexes (
        adapter_id TEXT PRIMARY KEY REFERENCES adapters(id),
        variant TEXT NOT NULL,         -- circuit variant the index is padded for
        checkpoints TEXT NOT NULL,     -- JSON: kept checkpoint files and learning rates
        index_json TEXT NOT NULL,      -- the AttributionIndex (serializeIndex)
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'on-chain registrations and receipt proofs',
    sql: `
      CREATE TABLE onchain_adapters (
        adapter_id TEXT PRIMARY KEY REFERENCES adapters(id),
        chain_id TEXT NOT NULL,
        settlement TEXT NOT NULL,
        onchain_id TEXT NOT NULL,      -- the registry's adapter id
        version INTEGER NOT NULL,
        binding TEXT NOT NULL,
        price TEXT NOT NULL,           -- wei
        pool_bps INTEGER NOT NULL,
        tx TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE receipt_proofs (
        receipt_id TEXT PRIMARY KEY REFERENCES receipts(id),
        job_id TEXT NOT NULL,
        commitment TEXT NOT NULL,      -- the receipt commitment (public signal 0), hex
        claim TEXT NOT NULL,           -- JSON: t, fee, pool, nonce, hashes (what an auditor replays)
        settle_tx TEXT,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'host wallets, adapter names per host, review queues',
    sql: `
      ALTER TABLE hosts ADD COLUMN wallet TEXT;               -- lower-case hex; its escrow pays the host's fees
      ALTER TABLE onchain_adapters ADD COLUMN host_wallet TEXT; -- the on-chain host of the adapter
      ALTER TABLE adapters ADD COLUMN name TEXT;              -- the host's own id for it; id is the service-wide key
      UPDATE adapters SET name = id;
      CREATE UNIQUE INDEX adapters_by_host_name ON adapters (owner_host, name);
      CREATE INDEX receipts_by_host ON receipts (host);
      CREATE INDEX records_by_contributor ON records (datanet_id, contributor, status);
    `,
  },
  {
    version: 7,
    name: 'numbered receipts, versions, batches and payout ledgers',
    sql: `
      ALTER TABLE receipts ADD COLUMN number INTEGER;        -- per adapter, from 0, assigned when served
      CREATE UNIQUE INDEX receipts_by_number ON receipts (adapter_id, number);
      CREATE TABLE receipt_sequences (
        adapter_id TEXT PRIMARY KEY REFERENCES adapters(id),
        next INTEGER NOT NULL          -- the number the next answer gets
      );
      CREATE TABLE onchain_versions (
        adapter_id TEXT NOT NULL REFERENCES adapters(id),
        version INTEGER NOT NULL,
        first_receipt INTEGER NOT NULL, -- the version applies from this receipt number on
        index_root TEXT NOT NULL,
        binding TEXT NOT NULL,
        price TEXT NOT NULL,           -- wei per answer
        pool_bps INTEGER NOT NULL,
        tx TEXT NOT NULL,
        PRIMARY KEY (adapter_id, version)
      );
      CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        adapter_id TEXT NOT NULL REFERENCES adapters(id),
        version INTEGER NOT NULL,
        first INTEGER NOT NULL,        -- receipt numbers first .. first + count - 1
        count INTEGER NOT NULL,
        job_id TEXT NOT NULL,          -- the proof job
        job_kind TEXT NOT NULL,        -- names the verification key the proof must be made with
        public_signals TEXT NOT NULL,  -- JSON: what the proof must prove (binding, header, paid, receipts root, old root, new root)
        receipts TEXT NOT NULL,        -- JSON: the answers' receipt commitments, in order
        features TEXT NOT NULL,        -- JSON: each answer's quantized t (what the auditor replays)
        ledger TEXT NOT NULL,          -- JSON: every leaf's cumulative amount after the batch
        payouts TEXT NOT NULL,         -- JSON: what the batch pays each leaf
        settle_tx TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (adapter_id, first)
      );
      CREATE INDEX batches_by_adapter ON batches (adapter_id, first);
    `,
  },
  {
    version: 8,
    name: 'registrations of the per-answer contracts set aside',
    // a registration without versions was made with the per-answer settlement, which batches
    // cannot settle on: kept for the record, out of the way of registering the adapter anew
    sql: `
      CREATE TABLE onchain_adapters_per_answer AS
        SELECT * FROM onchain_adapters WHERE adapter_id NOT IN (SELECT adapter_id FROM onchain_versions);
      DELETE FROM onchain_adapters WHERE adapter_id NOT IN (SELECT adapter_id FROM onchain_versions);
    `,
  },
  {
    version: 9,
    name: 'index leaves published under their content hash',
    sql: `
      CREATE TABLE published_leaves (
        leaves_hash TEXT PRIMARY KEY,  -- keccak256(abi.encode(payees, featureChunks)), as the registry records it
        payees TEXT NOT NULL,          -- JSON: addresses in leaf order
        feature_chunks TEXT NOT NULL,  -- JSON: decimal strings, ceil(K/15) per leaf
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 10,
    name: 'settlement gas and time per batch',
    sql: `
      ALTER TABLE batches ADD COLUMN gas_used TEXT;   -- the settlement transaction's gas (decimal)
      ALTER TABLE batches ADD COLUMN settled_at TEXT; -- when this server recorded the settlement
    `,
  },
  {
    version: 11,
    name: 'the model an adapter adapts',
    sql: `
      ALTER TABLE adapters ADD COLUMN model TEXT NOT NULL DEFAULT 'classifier' CHECK (model IN ('classifier', 'causal-lm'));
    `,
  },
];

export function openDatabase(path = ':memory:'): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    })();
  }
  return db;
}

export function schemaVersion(db: Db): number {
  return (db.prepare('SELECT MAX(version) v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
}
