/**
 * The main job on one machine: with the stack running, migrate, prepare the example stores,
 * start a worker and the wiki example's HTTP services in-process, and run the example sagas:
 * each one once to COMMITTED and once with a failure that rolls it back. Prints what happened
 * in every store and where to look in the Temporal Web UI.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { start as startFileStore } from './services/file-store.js';
import { start as startGitSnapshot } from './services/git-snapshot.js';
import { createAuditPool, migrate } from '../audit/index.js';
import { connectTemporalClient } from '../client/connect.js';
import { SagaClient } from '../client/index.js';
import { storeGuard, type Config } from '../config/index.js';
import type { SagaDefinition, SagaResult } from '../client/index.js';
import { createSagaWorker, type SagaWorker } from '../workers/index.js';
import { packageRoot } from '../paths.js';

// The example definitions stay at the package root (shipped as files), also when run from dist/.
const examplesDir = new URL('examples/', pathToFileURL(`${packageRoot()}/`));

/** Reads an example definition and gives every entity a fresh id, so the demo can run again. */
export function instantiateExample(file: string, placeholder: string, fresh: string): SagaDefinition {
  const text = readFileSync(new URL(file, examplesDir), 'utf8');
  return JSON.parse(text.split(placeholder).join(fresh)) as SagaDefinition;
}

export interface DemoRun {
  sagaId: string;
  name: string;
  expected: 'COMMITTED' | 'ROLLED_BACK';
  state: string;
  failedAt: string | null;
  residue: string;
}

export interface DemoResult {
  runs: DemoRun[];
  uiUrl: string;
}

/** Prepares the example stores: examples/setup.sql (the `documents` table) and examples/setup.cypher. */
export async function prepareExampleStores(worker: SagaWorker): Promise<void> {
  const { pool, neo4j } = worker.resources;
  await pool.query(readFileSync(new URL('setup.sql', examplesDir), 'utf8'));
  const cypher = readFileSync(new URL('setup.cypher', examplesDir), 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('//'))
    .join('\n');
  for (const statement of cypher
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean)) {
    await neo4j.executeQuery(statement);
  }
}

async function documentResidue(worker: SagaWorker, config: Config, docId: string): Promise<string> {
  const { pool, neo4j, s3, vector } = worker.resources;
  const found: string[] = [];
  const rows = await pool.query('SELECT 1 FROM documents WHERE id = $1', [docId]);
  if (rows.rowCount) found.push('row');
  const nodes = await neo4j.executeQuery('MATCH (d:Document {id: $id}) RETURN count(d) AS n', { id: docId });
  if (Number(nodes.records[0]?.get('n') ?? 0) > 0) found.push('node');
  const points = await vector.get('documents', [`${docId}-0`, `${docId}-1`]).catch(() => []);
  if (points.length > 0) found.push(`${points.length} chunks`);
  try {
    await s3.send(new HeadObjectCommand({ Bucket: config.s3.bucket, Key: `documents/${docId}/report.txt` }));
    found.push('object');
  } catch {
    // absent
  }
  return found.join(', ');
}

/** Runs the demo. The stack must be up (scripts/demo.sh brings it up first). */
export async function runDemo(
  config: Config,
  log: (line: string) => void = console.log,
): Promise<DemoResult> {
  const migrationPool = createAuditPool(config.postgres);
  try {
    await migrate(migrationPool);
  } finally {
    await migrationPool.end();
  }
  const token = config.http.internalToken ?? `demo-${randomUUID()}`;
  const projectsDir = mkdtempSync(join(tmpdir(), 'polysaga-wiki-'));
  const files = await startFileStore({ port: 0, dataDir: projectsDir, internalToken: token });
  const git = await startGitSnapshot({ port: 0, projectsDir, internalToken: token });
  const demoConfig: Config = {
    ...config,
    http: {
      services: { ...config.http.services, files: { url: files.url }, git: { url: git.url } },
      internalToken: token,
    },
  };
  const taskQueue = `${config.temporal.taskQueue}-demo`;
  const worker = await createSagaWorker({ config: demoConfig, taskQueue });
  const running = worker.run();
  const { client: temporal, connection } = await connectTemporalClient(config, {
    pool: worker.resources.pool,
  });
  const runs: DemoRun[] = [];
  try {
    await prepareExampleStores(worker);
    const client = new SagaClient({ client: temporal, taskQueue, guard: storeGuard(config) });
    const report = (r: SagaResult, expected: DemoRun['expected'], residue: string) => {
      const s = r.status;
      runs.push({ sagaId: s.sagaId, name: s.name, expected, state: s.state, failedAt: s.failedAt, residue });
      log(
        `  ${s.sagaId}: ${s.state}` +
          (s.failedAt ? ` (failed at ${s.failedAt}: ${s.error ?? ''})` : '') +
          ` — in the stores now: ${residue || 'nothing'}`,
      );
    };

    const short = randomUUID().slice(0, 8);
    log('document-ingest: PostgreSQL row → Neo4j node + relationship → vector chunks → S3 object');
    const docOk = `doc-${short}`;
    report(
      await client.executeSaga(instantiateExample('document-ingest.json', 'doc-42', docOk)),
      'COMMITTED',
      await documentResidue(worker, demoConfig, docOk),
    );
    const docBad = `doc-${short}-fail`;
    const failing = instantiateExample('document-ingest.json', 'doc-42', docBad);
    const last = failing.steps[failing.steps.length - 1]!;
    // The last write targets a bucket that does not exist: a permanent failure, so every
    // earlier write is undone, newest first.
    last.payload = { ...last.payload, bucket: `missing-${short}` };
    report(
      await client.executeSaga(failing),
      'ROLLED_BACK',
      await documentResidue(worker, demoConfig, docBad),
    );

    log('wiki-generation: save files on the file store → git snapshot (HTTP services)');
    const wikiOk = `proj-${short}`;
    report(
      await client.executeSaga(instantiateExample('wiki-generation.json', 'proj-123', wikiOk)),
      'COMMITTED',
      await wikiResidue(files.url, token, wikiOk),
    );
    const wikiBad = `proj-${short}-fail`;
    git.setFailSnapshots(true);
    report(
      await client.executeSaga(instantiateExample('wiki-generation.json', 'proj-123', wikiBad)),
      'ROLLED_BACK',
      await wikiResidue(files.url, token, wikiBad),
    );
    git.setFailSnapshots(false);
  } finally {
    await connection.close();
    await worker.shutdown();
    await running.catch(() => undefined);
    await Promise.allSettled([files.close(), git.close()]);
  }
  const uiUrl = `${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`;
  return { runs, uiUrl };
}

async function wikiResidue(filesUrl: string, token: string, projectId: string): Promise<string> {
  const res = await fetch(`${filesUrl}/files/${projectId}`, {
    headers: { 'X-User-ID': 'demo', 'X-INTERNAL-TOKEN': token },
  });
  if (!res.ok) return '';
  const body = (await res.json()) as { files?: string[] };
  return body.files?.length ? `${body.files.length} files` : '';
}
