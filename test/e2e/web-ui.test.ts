/**
 * The Temporal Web UI on a committed and a rolled-back saga, in a real browser: Debian's
 * chromium (headless) driven by playwright-core, against the stack's Temporal (Web UI on
 * TEMPORAL_UI_URL, default http://127.0.0.1:8233) and a real worker.
 *
 * The stack encrypts payloads, and the workflow summary (user metadata) is a payload: the page
 * is pointed at `polysaga codec-server` the way a user does it (the Web UI keeps the codec
 * endpoint in the browser's local storage), so the summaries read as text. Screenshots are
 * kept in test-artifacts/web-ui/ (git-ignored; CI can upload them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectTemporalClient,
  SAGA_ROLLED_BACK_FAILURE_TYPE,
  SagaClient,
  type ConnectedTemporalClient,
} from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createSagaWorker, type SagaWorker } from '../../src/workers/index.js';
import { ensureChromium } from '../helpers/chromium.js';
import { POLYSAGA_BIN } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const taskQueue = `polysaga-e2e-webui-${run}`;
const table = `e2e_webui_${run}`;
const sagaName = `web-ui-${run}`;
const committedId = `e2e-webui-ok-${run}`;
const rolledBackId = `e2e-webui-rb-${run}`;
const uiUrl = (process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233').replace(/\/$/, '');
const namespace = config.temporal.namespace;
const artifacts = fileURLToPath(new URL('../../test-artifacts/web-ui/', import.meta.url));

let worker: SagaWorker;
let running: Promise<void>;
let connected: ConnectedTemporalClient;
let codecServer: ChildProcess;
let codecUrl: string;
let browser: Browser;

function definition(sagaId: string, failing: boolean) {
  return {
    name: sagaName,
    sagaId,
    steps: [
      { id: 'row', backend: 'postgres', operation: 'insert', payload: { table, values: { id: sagaId } } },
      // The rolled-back saga inserts the same key again: a permanent failure.
      {
        id: failing ? 'dup' : 'second',
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { id: failing ? sagaId : `${sagaId}-2` } },
      },
    ],
  };
}

/** Opens a saga's workflow page with the codec server configured; waits until it settled. */
async function openSaga(sagaId: string, expectText: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  // Where the Web UI keeps the codec endpoint (its "Codec Server" settings) for this browser.
  await context.addInitScript((endpoint: string) => {
    // Runs in the page (no DOM types in this project).
    const storage = (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } })
      .localStorage;
    storage.setItem('endpoint', JSON.stringify(endpoint));
    storage.setItem('overrideRemoteCodecConfiguration', 'true');
  }, codecUrl);
  const page = await context.newPage();
  await page.goto(`${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(sagaId)}`, {
    waitUntil: 'domcontentloaded',
  });
  await waitForText(page, sagaId, expectText);
  return page;
}

beforeAll(async () => {
  const executablePath = ensureChromium();
  mkdirSync(artifacts, { recursive: true });
  worker = await createSagaWorker({ config, taskQueue });
  running = worker.run();
  connected = await connectTemporalClient(config, { pool: worker.resources.pool });
  await worker.resources.pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
  codecServer = spawn(POLYSAGA_BIN, ['codec-server', '--port', '0', '--no-blobs'], {
    env: process.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  codecUrl = await new Promise<string>((resolve, reject) => {
    let err = '';
    codecServer.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m?.[1]) resolve(m[1]);
    });
    codecServer.once('exit', (code) => reject(new Error(`codec-server exited with ${code}: ${err}`)));
  });
  browser = await chromium.launch({
    executablePath,
    headless: true,
    // As root in a container chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

afterAll(async () => {
  await browser?.close();
  codecServer?.kill('SIGTERM');
  await worker?.resources.pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await connected?.close();
  await worker?.shutdown();
  await running?.catch(() => undefined);
});

/** The page's visible text, with that of its frames (the Web UI renders Markdown metadata in iframes). */
async function textOf(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((f) =>
      f
        .locator('body')
        .innerText()
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}

/** Opens the "User Metadata" tab of a workflow page and returns its text once `expectText` shows. */
async function userMetadata(page: Page, sagaId: string, expectText: string): Promise<string> {
  await page.getByText('User Metadata', { exact: true }).first().click();
  await waitForText(page, sagaId, expectText);
  return textOf(page);
}

/** Waits until the page shows `text`; on timeout, fails with what it shows instead. */
async function waitForText(page: Page, sagaId: string, text: string): Promise<void> {
  try {
    await expect.poll(() => textOf(page), { timeout: 30_000, interval: 250 }).toContain(text);
  } catch (err) {
    await page.screenshot({ path: `${artifacts}${sagaId}-timeout.png`, fullPage: true });
    const shown = await textOf(page);
    throw new Error(`${page.url()} does not show "${text}"; it shows:\n${shown.slice(0, 3000)}`, {
      cause: err,
    });
  }
}

describe('Web UI triage', () => {
  it('shows a committed saga as COMPLETED and a rolled-back one as FAILED, with step summaries and the saga summary', async () => {
    const sagas = new SagaClient({ client: connected.client, taskQueue });
    expect((await sagas.executeSaga(definition(committedId, false))).status.state).toBe('COMMITTED');
    const rb = await sagas.executeSaga(definition(rolledBackId, true));
    expect(rb.status.state).toBe('ROLLED_BACK');
    const summary = `saga ${sagaName}: 2 steps (postgres)`;

    // Committed: a green COMPLETED workflow whose timeline reads as steps.
    const ok = await openSaga(committedId, 'row: postgres.insert');
    const okText = await textOf(ok);
    expect(okText).toMatch(/\bCOMPLETED\b/);
    expect(okText).toContain('second: postgres.insert');
    expect(okText).not.toContain('SagaRolledBack');
    await ok.screenshot({ path: `${artifacts}committed-timeline.png`, fullPage: true });
    expect(await userMetadata(ok, committedId, summary)).toContain(summary);
    await ok.screenshot({ path: `${artifacts}committed-metadata.png`, fullPage: true });

    // Rolled back: a red FAILED workflow, its failure type and (decrypted) message, the undo in the timeline.
    // The failure's message (decrypted through the codec server) is the SagaRolledBack one; its
    // type sits further down the virtualized JSON box (asserted through the API below).
    const failed = await openSaga(
      rolledBackId,
      `saga ${rolledBackId} (${sagaName}) rolled back after step dup failed`,
    );
    const failedText = await textOf(failed);
    expect(failedText).toMatch(/\bFAILED\b/);
    expect(failedText).not.toMatch(/\bCOMPLETED\b/);
    expect(failedText).toContain('dup: postgres.insert');
    expect(failedText).toContain('undo row: relational_delete');
    const failure: unknown = await connected.client.workflow
      .getHandle(rolledBackId)
      .result()
      .then(() => null)
      .catch((e: unknown) => (e as { cause?: { type?: string; nonRetryable?: boolean } }).cause);
    expect(failure).toMatchObject({ type: SAGA_ROLLED_BACK_FAILURE_TYPE, nonRetryable: true });
    await failed.screenshot({ path: `${artifacts}rolled-back-timeline.png`, fullPage: true });
    const meta = await userMetadata(failed, rolledBackId, summary);
    // The details list the steps: id, operation and compensation.
    expect(meta).toMatch(/dup\s*: postgres\.insert, undo\s*relational_delete/);
    await failed.screenshot({ path: `${artifacts}rolled-back-metadata.png`, fullPage: true });
  });
});
