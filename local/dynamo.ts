/**
 * The embedded DynamoDB: dynalite on 127.0.0.1, in memory unless `dataDir` is given, with the
 * connections table (protocol/table.ts) and, when named, the history table (protocol/history.ts)
 * created when missing — so a restart on the same data directory keeps every row.
 */
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createHistoryTableInput } from '../protocol/history';
import { createTableInput } from '../protocol/table';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './constants';
import { listen } from './http-server';

export interface DynamoOptions {
  tableName: string;
  /** The history table too (message continuity). */
  historyTableName?: string;
  /** Keep the data in this directory (created if needed); in memory when absent. */
  dataDir?: string;
  port?: number;
  host?: string;
}

export interface LocalDynamo {
  /** AWS_ENDPOINT_URL_DYNAMODB for the handlers. */
  endpoint: string;
  tableName: string;
  /** True when the table was already in dataDir. */
  reused: boolean;
  close(): Promise<void>;
}

const LOCK_FILE = 'realtime-local.pid';
const CLOSE_GRACE_MS = 2000;
/** Data directories this process has open (the pid file cannot tell two of ours apart). */
const openHere = new Set<string>();

export async function startDynamo(options: DynamoOptions): Promise<LocalDynamo> {
  const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
  if (dataDir) lockDataDir(dataDir);
  const server = dynalite({ ...(dataDir ? { path: join(dataDir, 'dynamodb') } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const unlock = () => {
    if (!dataDir) return;
    openHere.delete(dataDir);
    rmSync(join(dataDir, LOCK_FILE), { force: true });
  };
  // dynalite closes its database once the HTTP server has closed; a request still running then
  // would throw outside any handler, so running requests finish first (idle sockets close at once).
  const close = () =>
    new Promise<void>((done) => {
      server.close(() => done());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    }).finally(unlock);
  try {
    const endpoint = await listen(server, options.port ?? 0, options.host);
    const reused = await ensureTable(endpoint, createTableInput(options.tableName));
    if (options.historyTableName) await ensureTable(endpoint, createHistoryTableInput(options.historyTableName));
    return { endpoint, tableName: options.tableName, reused, close };
  } catch (err) {
    if (server.listening) await close();
    else unlock();
    throw err;
  }
}

type TableSpec = ReturnType<typeof createTableInput> | ReturnType<typeof createHistoryTableInput>;

/** Create the table unless it exists; refuse a table of another shape (an old data directory). */
async function ensureTable(endpoint: string, spec: TableSpec): Promise<boolean> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const tableName = spec.TableName;
  const keysOf = (schema: readonly { AttributeName?: string; KeyType?: string }[] = []) => schema.map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName);
    const wanted = 'GlobalSecondaryIndexes' in spec ? spec.GlobalSecondaryIndexes.map((i) => i.IndexName) : [];
    if (keysOf(Table?.KeySchema) !== keysOf(spec.KeySchema) || !wanted.every((i) => indexes.includes(i))) {
      throw new Error(`The table ${tableName} in the data directory has another key schema or lacks an index (${wanted.join(', ') || 'none'}); use a fresh --data directory`);
    }
    return true;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await client.send(new CreateTableCommand(spec));
    return false;
  } finally {
    client.destroy();
  }
}

/** One local run per data directory: LevelDB would fail later, and less clearly. */
function lockDataDir(dataDir: string): void {
  if (openHere.has(dataDir)) throw new Error(`The data directory ${dataDir} is already in use by another local system in this process`);
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, LOCK_FILE);
  let holder: number | undefined;
  try {
    holder = Number(readFileSync(lock, 'utf8').trim());
  } catch {
    holder = undefined;
  }
  if (holder && holder !== process.pid && isAlive(holder)) {
    throw new Error(`The data directory ${dataDir} is in use by another local run (pid ${holder}); stop it first, or delete ${lock} if that process is not ours`);
  }
  writeFileSync(lock, String(process.pid));
  openHere.add(dataDir);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process can linger as a zombie until it is reaped; it holds no files.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
