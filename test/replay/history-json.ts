/**
 * History ⇄ proto3 JSON (the format of `temporal workflow show -o json`), using the protobufjs
 * copy that belongs to @temporalio/proto.
 *
 * Why not `historyToJSON`/`historyFromJSON` from @temporalio/common: with this install's
 * layout @temporalio/common and @temporalio/proto each carry their own protobufjs, and the
 * protojson helpers then fail with "type must be a Type" (an instanceof across copies).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const require = createRequire(import.meta.url);
const protoDir = dirname(require.resolve('@temporalio/proto/package.json'));
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
const proto = require('@temporalio/proto') as typeof import('@temporalio/proto');
const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root') as {
  patchProtobufRoot: (root: unknown) => { lookupType(name: string): unknown };
};
const historyType = patchProtobufRoot(proto).lookupType('temporal.api.history.v1.History');

/** A fetched history as pretty proto3 JSON text. */
export function historyToJsonText(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history);
  return `${JSON.stringify(protojson.toJson(historyType, message), null, 2)}\n`;
}

/** A proto3 JSON history (parsed) as a History object for `Worker.runReplayHistories`. */
export function historyFromJsonValue(json: unknown): History {
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
