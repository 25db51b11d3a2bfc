/**
 * TLS and mTLS to Temporal, end to end. The dev server cannot serve TLS (`temporal server
 * start-dev` has no TLS flags), so the test puts a TLS terminator in front of it: a node:tls
 * server on a free port, with certificates made here by `openssl`, that forwards the decrypted
 * bytes to the shared dev server (gRPC over h2c behind it). The CLI and the worker connect through
 * it with TEMPORAL_TLS_* variables and with a temporal.toml profile; the mTLS terminator refuses
 * a client without a certificate signed by the test CA.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { polysaga, startWorker } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const SERVER_NAME = 'temporal.polysaga.test';
let dir: string;
let pool: pg.Pool;
const table = `e2e_tls_${run}`;

/** Certificates: a CA, a server certificate for SERVER_NAME only, a client certificate; PEM paths. */
function makeCertificates(at: string) {
  const sh = (args: string[]) => execFileSync('openssl', args, { cwd: at, stdio: 'pipe' });
  const ext = (name: string, text: string) => writeFileSync(join(at, name), text);
  sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=polysaga test CA',
    '-keyout', 'ca.key', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']); // prettier-ignore
  const leaf = (name: string, cn: string, extensions: string) => {
    ext(`${name}.ext`, extensions);
    sh(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]); // prettier-ignore
    sh(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]); // prettier-ignore
  };
  leaf(
    'server',
    SERVER_NAME,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${SERVER_NAME}\n`,
  );
  leaf(
    'client',
    'polysaga worker',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  const p = (f: string) => join(at, f);
  return {
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  };
}

interface Terminator {
  server: TlsServer;
  address: string;
  /** TLS sessions that completed the handshake (and were forwarded). */
  sessions: number;
  /** Handshakes refused (e.g. no client certificate). */
  refused: number;
}

/** A TLS terminator in front of the dev server; `mtls` asks for and verifies a client certificate. */
async function startTerminator(
  certs: ReturnType<typeof makeCertificates>,
  mtls: boolean,
): Promise<Terminator> {
  const [host, port] = config.temporal.address.split(':') as [string, string];
  const t: Terminator = { server: undefined as unknown as TlsServer, address: '', sessions: 0, refused: 0 };
  t.server = createTlsServer(
    {
      key: readFileSync(certs.serverKey),
      cert: readFileSync(certs.serverCert),
      ALPNProtocols: ['h2'],
      ...(mtls ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(certs.ca) } : {}),
    },
    (socket: TLSSocket) => {
      t.sessions++;
      const upstream = netConnect(Number(port), host);
      socket.pipe(upstream).pipe(socket);
      const close = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', close);
      upstream.on('error', close);
      socket.on('close', close);
      upstream.on('close', close);
    },
  );
  t.server.on('tlsClientError', () => t.refused++);
  await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', r));
  t.address = `127.0.0.1:${(t.server.address() as AddressInfo).port}`;
  return t;
}

let certs: ReturnType<typeof makeCertificates>;
let tlsOnly: Terminator;
let mutual: Terminator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'polysaga-tls-'));
  certs = makeCertificates(dir);
  writeFileSync(join(dir, 'empty.toml'), '');
  tlsOnly = await startTerminator(certs, false);
  mutual = await startTerminator(certs, true);
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
});

afterAll(async () => {
  for (const t of [tlsOnly, mutual]) {
    await new Promise((r) => t?.server.close(r));
  }
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

/** The environment of a CLI or worker child: the stack's, minus any Temporal setting inherited. */
function temporalEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return {
    TEMPORAL_TLS: undefined,
    TEMPORAL_API_KEY: undefined,
    TEMPORAL_PROFILE: undefined,
    TEMPORAL_CONFIG_FILE: join(dir, 'empty.toml'), // not the user's ~/.config/temporalio/temporal.toml
    ...vars,
  };
}

describe('TLS to Temporal (server CA and server name)', () => {
  it('the CLI connects through TLS with TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_NAME', async () => {
    const before = tlsOnly.sessions;
    const env = temporalEnv({
      TEMPORAL_ADDRESS: tlsOnly.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
      TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    });
    const list = await polysaga(['list', '--json', '--limit', '1'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(list.stdout))).toBe(true);
    expect(tlsOnly.sessions).toBeGreaterThan(before);
  });

  it('refuses a server whose certificate it cannot verify (no CA, or a name not in the certificate)', async () => {
    const noCa = await polysaga(
      ['list', '--json', '--limit', '1'],
      temporalEnv({
        TEMPORAL_ADDRESS: tlsOnly.address,
        TEMPORAL_TLS: 'true',
        TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
      }),
    );
    expect(noCa.code).toBe(5);
    expect(noCa.stderr).toContain(`cannot reach Temporal at ${tlsOnly.address}`);
    const wrongName = await polysaga(
      ['list', '--json', '--limit', '1'],
      temporalEnv({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca }),
    );
    expect(wrongName.code).toBe(5);
  });

  it('a missing CA file stops the CLI with a configuration error naming the variable', async () => {
    const missing = join(dir, 'missing-ca.pem');
    const r = await polysaga(
      ['list', '--json'],
      temporalEnv({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read ${missing} (ENOENT)`);
  });
});

describe('mTLS to Temporal (client certificate)', () => {
  it('a worker on a temporal.toml profile and the CLI on TEMPORAL_TLS_* run a saga to COMMITTED through mTLS', async () => {
    const toml = join(dir, 'temporal.toml');
    writeFileSync(
      toml,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"', // unused: the worker asks for the profile below
        '',
        '[profile.mtls]',
        `address = "${mutual.address}"`,
        `namespace = "${config.temporal.namespace}"`,
        '[profile.mtls.tls]',
        `server_ca_cert_path = "${certs.ca}"`,
        `server_name = "${SERVER_NAME}"`,
        `client_cert_path = "${certs.clientCert}"`,
        `client_key_path = "${certs.clientKey}"`,
        '',
      ].join('\n'),
    );
    const taskQueue = `polysaga-e2e-mtls-${run}`;
    const before = mutual.sessions;
    const worker = await startWorker({
      ...temporalEnv({
        TEMPORAL_CONFIG_FILE: toml,
        TEMPORAL_PROFILE: 'mtls',
        TEMPORAL_TASK_QUEUE: taskQueue,
      }),
      TEMPORAL_ADDRESS: undefined,
      TEMPORAL_NAMESPACE: undefined,
    });
    try {
      const file = join(dir, 'saga.json');
      const sagaId = `e2e-mtls-${run}`;
      writeFileSync(
        file,
        JSON.stringify({
          name: 'e2e-mtls',
          sagaId,
          steps: [
            {
              id: 'row',
              backend: 'postgres',
              operation: 'insert',
              payload: { table, values: { id: sagaId } },
            },
          ],
        }),
      );
      const cli = temporalEnv({
        TEMPORAL_ADDRESS: mutual.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
        TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
        TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
      });
      const started = await polysaga(['start', file, '--wait', '--json'], cli);
      expect(started.code, started.stderr).toBe(0);
      expect(JSON.parse(started.stdout)).toMatchObject({ sagaId, state: 'COMMITTED' });
      expect((await pool.query(`SELECT id FROM ${table}`)).rows).toEqual([{ id: sagaId }]);
      // Worker and CLI both went through the terminator.
      expect(mutual.sessions - before).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.stop();
    }
  });

  it('without a client certificate the server refuses the connection', async () => {
    const refusedBefore = mutual.refused;
    const r = await polysaga(
      ['list', '--json', '--limit', '1'],
      temporalEnv({
        TEMPORAL_ADDRESS: mutual.address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
        TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
      }),
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`cannot reach Temporal at ${mutual.address}`);
    expect(mutual.refused).toBeGreaterThan(refusedBefore);
  });
});
