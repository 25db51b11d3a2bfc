/** Inputs of the typed examples that reproduce examples/document-ingest.json and examples/wiki-generation.json. */
import type { DocumentIngestInput } from './document-ingest.js';
import type { WikiGenerationInput } from './wiki-generation.js';

export const documentIngestExampleInput: DocumentIngestInput = {
  documentId: 'doc-42',
  title: 'Quarterly report',
  sourcePath: 'uploads/report.pdf',
  collectionId: 'reports',
  chunks: [
    { text: 'Revenue grew 12% over the quarter.', vector: [0.12, 0.03, 0.88, 0.41] },
    { text: 'Costs stayed flat.', vector: [0.07, 0.52, 0.31, 0.66] },
  ],
  body: 'Revenue grew 12% over the quarter. Costs stayed flat.',
  fileName: 'report.txt',
  traceId: 'trace-doc-42',
};

export const wikiGenerationExampleInput: WikiGenerationInput = {
  projectId: 'proj-123',
  userId: 'user-456',
  files: [
    { path: 'wiki/index.md', content: '# Project 123\n\nOverview.' },
    { path: 'wiki/architecture.md', content: '# Architecture\n\nServices and data flow.' },
  ],
};
