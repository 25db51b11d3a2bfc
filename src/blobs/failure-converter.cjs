// The failure converter of polysaga's data converter (src/blobs/codec.ts, FAILURE_CONVERTER_PATH):
// failure messages and stack traces are encoded as a payload, which the encryption codec then
// encrypts (docs/security.md, "Encrypted payloads"). CommonJS, because the Temporal SDK
// require()s it and bundles it into the workflow code.
'use strict';
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
