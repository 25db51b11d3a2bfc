/**
 * The secret-masking payload codec: the last line of defence of "Secrets masked by value"
 * (docs/security.md). On encode, a JSON payload whose text holds a configured secret value is
 * parsed, every such value in its strings and keys is replaced by `***`, and it is written
 * back; every other payload passes unchanged (no parse: one substring search per secret form).
 * Decode is the identity. It runs first among the codecs, before the claim check and any
 * encryption, so neither history nor the blob store holds a secret.
 *
 * Activities mask their results and errors already (src/activities/secrets.ts); this codec
 * catches what else is encoded by the worker and the clients: workflow inputs (a definition
 * holding a secret — its step then receives `***`), query results, signals.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { SecretMasker } from '../audit/redact.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function isJson(p: Payload): boolean {
  const enc = p.metadata?.encoding;
  return enc !== undefined && enc !== null && fromUtf8.decode(enc) === 'json/plain';
}

export class SecretMaskingCodec implements PayloadCodec {
  /** Each secret form as it appears in JSON text (quotes, backslashes and controls escaped); private, see SecretMasker. */
  readonly #jsonNeedles: string[];
  readonly #masker: SecretMasker;

  constructor(masker: SecretMasker) {
    this.#masker = masker;
    const forms = new Set<string>();
    for (const n of masker.needles) {
      forms.add(n);
      forms.add(JSON.stringify(n).slice(1, -1));
    }
    this.#jsonNeedles = [...forms];
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    if (this.#jsonNeedles.length === 0) return Promise.resolve(payloads);
    return Promise.resolve(
      payloads.map((p) => {
        if (!isJson(p) || !p.data) return p;
        const text = fromUtf8.decode(p.data);
        if (!this.#jsonNeedles.some((n) => text.includes(n))) return p;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return p;
        }
        return { ...p, data: utf8.encode(JSON.stringify(this.#masker.json(value))) };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads);
  }
}
