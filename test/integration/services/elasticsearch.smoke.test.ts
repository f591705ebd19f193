// Smoke test: the real Elasticsearch from test/services (npm run services:up) indexes and searches a document.
import t from 'tap';
import { Client } from '@elastic/elasticsearch';
import { elasticsearchUrl, requireService, uniqueName } from '../../helpers/services.js';

t.test('elasticsearch: create index, index a document, search it', async (t) => {
  if (!(await requireService(t, 'elasticsearch'))) return;

  const client = new Client({ node: elasticsearchUrl(), requestTimeout: 30_000 });
  t.teardown(() => client.close());
  const index = uniqueName('smoke-index');
  t.teardown(async () => {
    await client.indices.delete({ index, ignore_unavailable: true }).catch(() => {});
  });

  const info = await client.info();
  t.match(info.version.number, /^8\./, `server is Elasticsearch 8.x (${info.version.number})`);

  await client.indices.create({
    index,
    mappings: { properties: { text: { type: 'text' }, kind: { type: 'keyword' }, at: { type: 'date' } } },
  });
  const settings = await client.indices.getSettings({ index });
  t.equal(settings[index]?.settings?.index?.number_of_replicas, '0', 'test template gives 0 replicas');

  const indexed = await client.index({
    index,
    id: 'doc-1',
    document: { text: 'hello elastic world', kind: 'greeting', at: '2026-01-02T03:04:05Z' },
    refresh: 'wait_for',
  });
  t.equal(indexed.result, 'created');

  const res = await client.search<{ text: string; kind: string }>({
    index,
    query: { bool: { must: [{ match: { text: 'elastic' } }], filter: [{ term: { kind: 'greeting' } }] } },
  });
  const total = typeof res.hits.total === 'number' ? res.hits.total : res.hits.total?.value;
  t.equal(total, 1, 'one hit');
  t.equal(res.hits.hits[0]?._id, 'doc-1');
  t.equal(res.hits.hits[0]?._source?.text, 'hello elastic world');

  const health = await client.cluster.health({ index, wait_for_status: 'green', timeout: '10s' });
  t.equal(health.status, 'green', 'index is green on the single node');
});
