// Graph data the example sagas rely on (idempotent): document-ingest relates each document
// to this collection. Applied by `polysaga demo`; pass it to `polysaga verify --setup`.
MERGE (c:Collection {id: 'reports'}) ON CREATE SET c.name = 'Reports';
