/**
 * Search attributes of saga workflows (all Keyword). They must be registered on the Temporal
 * namespace; the local stack does it with `--search-attribute`, elsewhere
 * `temporal operator search-attribute create --name SagaName --type Keyword` (and the others,
 * SagaOrigin included).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SagaNameKey = defineSearchAttributeKey('SagaName', SearchAttributeType.KEYWORD);
export const SagaStateKey = defineSearchAttributeKey('SagaState', SearchAttributeType.KEYWORD);
export const TraceIdKey = defineSearchAttributeKey('TraceId', SearchAttributeType.KEYWORD);
export const IdentityKeyKey = defineSearchAttributeKey('IdentityKey', SearchAttributeType.KEYWORD);
/**
 * Who started a saga when it is not production traffic: `verify` (`polysaga verify`), `bench`;
 * unset for real sagas. Default lists and the SQL metrics views leave tagged sagas out.
 */
export const SagaOriginKey = defineSearchAttributeKey('SagaOrigin', SearchAttributeType.KEYWORD);

/** Every saga search attribute key, e.g. for `TestWorkflowEnvironment.createLocal({ server: { searchAttributes } })`. */
export const SAGA_SEARCH_ATTRIBUTES = [SagaNameKey, SagaStateKey, TraceIdKey, IdentityKeyKey, SagaOriginKey];
