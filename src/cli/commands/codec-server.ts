/** `polysaga codec-server`: decodes polysaga payloads for the Temporal Web UI and CLI (docs/security.md). */
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { createPgPool } from '../../backends/postgres/adapter.js';
import { ClaimCheckCodec, EncryptionCodec, PgBlobStore } from '../../blobs/index.js';
import { createCodecServer } from '../../client/codec-server.js';
import { CliError } from '../errors.js';
import { config } from '../context.js';

interface CodecServerOpts {
  port?: string;
  host: string;
  origin?: string[];
  token?: string;
  blobs: boolean;
}

/** The UI URL's origin and its localhost / 127.0.0.1 twin (the browser sends whichever was typed). */
export function defaultOrigins(uiUrl: string): string[] {
  const u = new URL(uiUrl);
  const out = [u.origin];
  if (u.hostname === '127.0.0.1') out.push(u.origin.replace('127.0.0.1', 'localhost'));
  else if (u.hostname === 'localhost') out.push(u.origin.replace('localhost', '127.0.0.1'));
  return out;
}

export function registerCodecServer(program: Command): void {
  program
    .command('codec-server')
    .description(
      'serve POST /encode and /decode (Temporal codec server protocol) so the Web UI and the temporal CLI show decrypted payloads',
    )
    .option(
      '--port <port>',
      'port to listen on (default POLYSAGA_CODEC_SERVER_PORT, else 8081; 0: any free port)',
    )
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--origin <url...>',
      'browser origin(s) allowed by CORS (default: the origin of TEMPORAL_UI_URL, http://127.0.0.1:8233, and its localhost twin; * allows any)',
    )
    .option(
      '--token <token>',
      'require "Authorization: Bearer <token>" on every request (default POLYSAGA_CODEC_SERVER_TOKEN; none: no token)',
    )
    .option(
      '--no-blobs',
      'do not fetch claim-check references from polysaga_blobs on /decode (no database needed)',
    )
    .addHelpText(
      'after',
      `
Keys come from POLYSAGA_CODEC_KEYS or POLYSAGA_CODEC_KEYS_FILE, like the worker's. /decode turns
encrypted payloads back into plain ones and, unless --no-blobs, replaces claim-check references
(payloads over POLYSAGA_PAYLOAD_THRESHOLD) by the payload kept in polysaga_blobs; /encode encrypts.
Point the Web UI at it: \`temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081\`
(the local stack does this when POLYSAGA_CODEC_SERVER_PORT is set), or the UI's "Codec Server"
settings; the temporal CLI: \`temporal workflow show --codec-endpoint http://127.0.0.1:8081 ...\`
(add \`--codec-auth "Bearer <token>"\` with a token). See docs/security.md.`,
    )
    .action(async (opts: CodecServerOpts) => {
      const cfg = config();
      const port = opts.port === undefined ? cfg.codec.server.port : Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new CliError(`--port: ${opts.port} is not a port number`, 2);
      const token = opts.token ?? cfg.codec.server.token;
      if (token !== undefined && token.length < 16)
        throw new CliError('--token: must be at least 16 characters', 2);
      const origins = opts.origin?.length
        ? opts.origin.flatMap((o) => o.split(',')).map((o) => o.trim().replace(/\/+$/, ''))
        : defaultOrigins(cfg.temporal.uiUrl);
      const encryption = cfg.codec.keys.length > 0 ? new EncryptionCodec(cfg.codec.keys) : undefined;
      const pool = opts.blobs ? createPgPool(cfg.postgres, { max: 4, allowExitOnIdle: true }) : undefined;
      const encode = encryption ? [encryption] : [];
      const decode = [...encode, ...(pool ? [new ClaimCheckCodec(new PgBlobStore(pool))] : [])];
      const server = createCodecServer({
        encode,
        decode,
        origins,
        token,
        log: (line) => process.stderr.write(`codec-server: ${line}\n`),
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new CliError(
              `cannot listen on ${opts.host}:${port}: ${err.code ?? err.message}`,
              err.code === 'EADDRINUSE' ? 2 : 1,
            ),
          ),
        );
        server.listen(port, opts.host, resolve);
      });
      const addr = server.address() as AddressInfo;
      if (!encryption)
        process.stderr.write(
          'codec-server: warning: no POLYSAGA_CODEC_KEYS configured; payloads are not decrypted\n',
        );
      process.stderr.write(
        `polysaga codec-server listening on http://${opts.host}:${addr.port} ` +
          `(keys: ${encryption ? encryption.keyIds.join(', ') : 'none'}; claim-check: ${pool ? 'on' : 'off'}; ` +
          `origins: ${origins.join(', ')}; token: ${token ? 'required' : 'none'})\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => server.close(() => resolve());
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await pool?.end();
    });
}
