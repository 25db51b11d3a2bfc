/**
 * HTTP adapter: one request to a configured internal service (fetch), with a per-service
 * timeout (files 10 s, git 15 s, everything else 30 s unless HTTP_SERVICES sets one), an
 * `Idempotency-Key` header, and the internal auth headers: `X-User-ID` (from
 * the payload) and `X-INTERNAL-TOKEN` (from HTTP_INTERNAL_TOKEN). The token is never logged and
 * never part of a result or an error message.
 */
import type { Config, HttpServiceConfig } from '../../config/index.js';
import type { Json, JsonObject } from '../../saga/contracts.js';
import { FailureTypes } from '../../saga/contracts.js';
import { PermanentError } from '../errors.js';

/** Default timeouts by service name (the wiki example's file store and git services). */
export const DEFAULT_TIMEOUTS_MS: Record<string, number> = { files: 10_000, git: 15_000 };
export const FALLBACK_TIMEOUT_MS = 30_000;

export interface HttpRequest {
  service: string;
  method: string;
  path: string;
  body?: Json | undefined;
  headers?: Record<string, string> | undefined;
  userId?: string | undefined;
  okStatuses?: number[] | undefined;
}

export interface HttpResponse extends JsonObject {
  service: string;
  method: string;
  path: string;
  status: number;
  body: Json;
}

/** A non-success status from a service. `status` drives the error mapping (5xx transient, 4xx permanent). */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class HttpServiceClient {
  constructor(private readonly cfg: Config['http']) {}

  /** The configured service, or a permanent error naming it. */
  service(name: string): HttpServiceConfig {
    const s = this.cfg.services[name];
    if (!s) {
      throw new PermanentError(
        `unknown HTTP service ${JSON.stringify(name)} (configured: ${Object.keys(this.cfg.services).join(', ') || 'none'}; see HTTP_SERVICES)`,
        FailureTypes.InvalidPayload,
      );
    }
    return s;
  }

  timeoutMs(name: string): number {
    return this.cfg.services[name]?.timeoutMs ?? DEFAULT_TIMEOUTS_MS[name] ?? FALLBACK_TIMEOUT_MS;
  }

  /** Sends one request. Throws HttpStatusError for statuses outside 2xx and `okStatuses`. */
  async request(req: HttpRequest, idempotencyKey: string): Promise<HttpResponse> {
    const svc = this.service(req.service);
    const url = new URL(req.path.replace(/^\//, ''), svc.url.endsWith('/') ? svc.url : `${svc.url}/`);
    const headers = new Headers(req.headers ?? {});
    headers.set('Idempotency-Key', idempotencyKey);
    if (req.userId) headers.set('X-User-ID', req.userId);
    if (this.cfg.internalToken) headers.set('X-INTERNAL-TOKEN', this.cfg.internalToken);
    if (req.body !== undefined) headers.set('content-type', 'application/json');
    const res = await fetch(url, {
      method: req.method,
      headers,
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs(req.service)),
    });
    const text = await res.text();
    let body: Json = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) {
      try {
        body = JSON.parse(text) as Json;
      } catch {
        body = text;
      }
    }
    const ok = (res.status >= 200 && res.status < 300) || (req.okStatuses ?? []).includes(res.status);
    if (!ok) {
      let detail = typeof body === 'string' ? body.slice(0, 300) : JSON.stringify(body).slice(0, 300);
      // A service that echoes headers must not leak the token into failures (and so into history).
      if (this.cfg.internalToken) detail = detail.split(this.cfg.internalToken).join('***');
      throw new HttpStatusError(
        res.status,
        `${req.method} ${req.service}${req.path} → ${res.status}: ${detail}`,
      );
    }
    return { service: req.service, method: req.method, path: req.path, status: res.status, body };
  }
}
