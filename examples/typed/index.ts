/** Typed example sagas: add `export * from '<path>/examples/typed/index.js'` to a worker's workflows file. */
export { documentIngestSaga, type DocumentIngestInput } from './document-ingest.js';
export { wikiGenerationSaga, type WikiGenerationInput } from './wiki-generation.js';
