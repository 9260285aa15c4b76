// Tests for the mock Stampede API in www/mock/server.mjs, through plain HTTP
// requests to servers started on 127.0.0.1 with a free port.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startMockServer } from '../../www/mock/server.mjs';

const SERVER_FILE = fileURLToPath(new URL('../../www/mock/server.mjs', import.meta.url));
const TOKEN = 'demo-token';
const ORG_ID = 'a1b2c3d4-e5f6-7890-abcd-ef1234567890';
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INCOMING_EVENT = 'v1/workflows/incoming-event';

// Sends a JSON POST with the demo token unless headers override it. A string
// body is sent as-is.
function post(baseUrl, route, body, headers = {}) {
  return fetch(new URL(route, baseUrl), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function runRoute(workflowId) {
  return `v1/workflows/${encodeURIComponent(workflowId)}/workflow-runs`;
}

async function postJson(baseUrl, route, body, headers) {
  const response = await post(baseUrl, route, body, headers);
  return { response, status: response.status, body: await response.json() };
}

async function control(baseUrl, route, body) {
  const response = await fetch(new URL(`__mock/${route}`, baseUrl), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

// Sends a request with a raw path that fetch would normalize (for example "/../x").
function rawRequest(baseUrl, rawPath, method = 'GET') {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: hostname, port, path: rawPath, method, agent: false }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

function startQuietMock(options = {}) {
  return startMockServer({ port: 0, log: false, ...options });
}

describe('incoming event', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  after(() => mock.close());

  it('accepts a valid event and echoes it', async () => {
    const event = {
      organisation_registration_id: ORG_ID,
      serials: ['XXXXXXXXXXXX'],
      parameters: { source: 'some_service', key: 'value', count: 3, flag: false },
      unknown_field: 'ignored',
    };
    const started = Date.now();
    const { status, body } = await postJson(mock.url, INCOMING_EVENT, event);

    assert.equal(status, 200);
    assert.equal(body.message, 'Event received.');
    assert.match(body.event.id, UUID_PATTERN);
    assert.equal(body.event.organisation_registration_id, ORG_ID);
    assert.deepEqual(body.event.serials, event.serials);
    assert.deepEqual(body.event.parameters, event.parameters);
    assert.equal(body.event.unknown_field, undefined);
    assert.ok(Date.parse(body.event.received_at) >= started - 1000, body.event.received_at);
  });

  it('accepts the minimal event without optional fields', async () => {
    const { status, body } = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID });

    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body.event).sort(), ['id', 'organisation_registration_id', 'received_at']);
  });

  it('accepts an upper-case UUID', async () => {
    const { status } = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID.toUpperCase() });
    assert.equal(status, 200);
  });

  it('counts serial length in code points', async () => {
    const twelveEmoji = '😀'.repeat(12);
    const accepted = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID, serials: [twelveEmoji] });
    assert.equal(accepted.status, 200);

    const rejected = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID, serials: [`${twelveEmoji}x`] });
    assert.equal(rejected.status, 422);
    assert.deepEqual(Object.keys(rejected.body.errors), ['serials.0']);
  });
});

describe('incoming event validation', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  after(() => mock.close());

  const cases = [
    {
      name: 'missing organisation id',
      body: {},
      errors: { organisation_registration_id: ['The organisation registration id field is required.'] },
    },
    {
      name: 'null organisation id',
      body: { organisation_registration_id: null },
      errors: { organisation_registration_id: ['The organisation registration id field is required.'] },
    },
    {
      name: 'organisation id not a UUID',
      body: { organisation_registration_id: 'not-a-uuid' },
      errors: { organisation_registration_id: ['The organisation registration id field must be a valid UUID.'] },
    },
    {
      name: 'organisation id without hyphens',
      body: { organisation_registration_id: ORG_ID.replaceAll('-', '') },
      errors: { organisation_registration_id: ['The organisation registration id field must be a valid UUID.'] },
    },
    {
      name: 'organisation id a number',
      body: { organisation_registration_id: 42 },
      errors: { organisation_registration_id: ['The organisation registration id field must be a valid UUID.'] },
    },
    {
      name: 'serials not an array',
      body: { organisation_registration_id: ORG_ID, serials: 'XXXX' },
      errors: { serials: ['The serials field must be an array.'] },
    },
    {
      name: 'serials null',
      body: { organisation_registration_id: ORG_ID, serials: null },
      errors: { serials: ['The serials field must be an array.'] },
    },
    {
      name: 'serial over 12 characters',
      body: { organisation_registration_id: ORG_ID, serials: ['ok', '1234567890123'] },
      errors: { 'serials.1': ['The serials.1 field must not be greater than 12 characters.'] },
    },
    {
      name: 'serial empty',
      body: { organisation_registration_id: ORG_ID, serials: [''] },
      errors: { 'serials.0': ['The serials.0 field must be at least 1 character.'] },
    },
    {
      name: 'serial not a string',
      body: { organisation_registration_id: ORG_ID, serials: [123] },
      errors: { 'serials.0': ['The serials.0 field must be a string.'] },
    },
    {
      name: 'parameters an array',
      body: { organisation_registration_id: ORG_ID, parameters: ['a'] },
      errors: { parameters: ['The parameters field must be an object.'] },
    },
    {
      name: 'parameter value null',
      body: { organisation_registration_id: ORG_ID, parameters: { key: null } },
      errors: { 'parameters.key': ['The parameters.key field must be a string, number or boolean.'] },
    },
    {
      name: 'parameter value an object',
      body: { organisation_registration_id: ORG_ID, parameters: { user_data: { a: 1 } } },
      errors: { 'parameters.user_data': ['The parameters.user data field must be a string, number or boolean.'] },
    },
    {
      name: 'parameter value too large for a double',
      rawBody: `{"organisation_registration_id":"${ORG_ID}","parameters":{"big":1e400}}`,
      errors: { 'parameters.big': ['The parameters.big field must be a string, number or boolean.'] },
    },
    {
      name: 'source empty',
      body: { organisation_registration_id: ORG_ID, parameters: { source: '' } },
      errors: { 'parameters.source': ['The parameters.source field must not be empty.'] },
    },
    {
      name: 'source a number',
      body: { organisation_registration_id: ORG_ID, parameters: { source: 7 } },
      errors: { 'parameters.source': ['The parameters.source field must be a string.'] },
    },
  ];

  for (const testCase of cases) {
    it(`rejects ${testCase.name} with 422`, async () => {
      const { status, body } = await postJson(mock.url, INCOMING_EVENT, testCase.rawBody ?? testCase.body);

      assert.equal(status, 422);
      assert.deepEqual(body.errors, testCase.errors);
      assert.equal(body.message, Object.values(testCase.errors)[0][0]);
    });
  }

  it('summarizes one more error in the message', async () => {
    const { body } = await postJson(mock.url, INCOMING_EVENT, { serials: 'x' });

    assert.equal(body.message, 'The organisation registration id field is required. (and 1 more error)');
    assert.deepEqual(Object.keys(body.errors), ['organisation_registration_id', 'serials']);
  });

  it('summarizes several more errors in the message', async () => {
    const { body } = await postJson(mock.url, INCOMING_EVENT, {
      organisation_registration_id: 'x',
      serials: ['1234567890123', 5],
      parameters: { source: '' },
    });

    assert.equal(body.message, 'The organisation registration id field must be a valid UUID. (and 3 more errors)');
    assert.deepEqual(Object.keys(body.errors), ['organisation_registration_id', 'serials.0', 'serials.1', 'parameters.source']);
  });
});

describe('request body errors', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  after(() => mock.close());

  const badBodies = [
    { name: 'invalid JSON', body: '{"organisation_registration_id":' },
    { name: 'an empty body', body: '' },
    { name: 'a JSON array', body: '[]' },
    { name: 'a JSON string', body: '"text"' },
    { name: 'JSON null', body: 'null' },
    { name: 'an unpaired surrogate escape', body: `{"organisation_registration_id":"${ORG_ID}","serials":["\\ud800"]}` },
  ];

  for (const { name, body } of badBodies) {
    it(`rejects ${name} with 400`, async () => {
      const result = await postJson(mock.url, INCOMING_EVENT, body);

      assert.equal(result.status, 400);
      assert.equal(typeof result.body.message, 'string');
      assert.equal(result.body.errors, undefined);
    });
  }

  it('rejects invalid UTF-8 with 400', async () => {
    const response = await fetch(new URL(INCOMING_EVENT, mock.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0xff, 0x7d]),
    });

    assert.equal(response.status, 400);
    assert.match((await response.json()).message, /UTF-8/);
  });

  it('rejects a non-JSON content type with 415', async () => {
    const { status, body } = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID }, {
      'content-type': 'text/plain;charset=UTF-8',
    });

    assert.equal(status, 415);
    assert.match(body.message, /application\/json/);
  });

  it('rejects a body over 1 MiB with 413', async () => {
    const padding = 'x'.repeat(1024 * 1024);
    const { status, body } = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID, padding });

    assert.equal(status, 413);
    assert.match(body.message, /1048576 bytes/);
  });

  it('keeps serving after a malformed HTTP request', async () => {
    const { port } = new URL(mock.url);
    const reply = await new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: Number(port) }, () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 400/);

    const { status } = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID });
    assert.equal(status, 200);
  });
});

describe('authentication', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock({ token: 'secret-for-test' });
  });
  after(() => mock.close());

  const badHeaders = [
    { name: 'missing header', headers: { authorization: '' } },
    { name: 'wrong token', headers: { authorization: 'Bearer demo-token' } },
    { name: 'Basic scheme', headers: { authorization: 'Basic secret-for-test' } },
    { name: 'token without scheme', headers: { authorization: 'secret-for-test' } },
  ];

  for (const { name, headers } of badHeaders) {
    it(`rejects ${name} with 401`, async () => {
      const { status, body } = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID }, headers);

      assert.equal(status, 401);
      assert.deepEqual(body, { message: 'Unauthenticated.' });
    });
  }

  it('checks the token before the body', async () => {
    const { status } = await postJson(mock.url, INCOMING_EVENT, 'not json', { authorization: 'Bearer wrong' });
    assert.equal(status, 401);
  });

  it('accepts the configured token', async () => {
    const { status } = await postJson(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID }, {
      authorization: 'Bearer secret-for-test',
    });
    assert.equal(status, 200);
  });
});

describe('workflow runs', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock({ workflows: ['welcome-journey', 'a b?#%', 'ünïcode', '42'] });
  });
  afterEach(() => control(mock.url, 'reset', {}));
  after(() => mock.close());

  it('returns a full WorkflowRun', async () => {
    const started = Date.now();
    const { status, body } = await postJson(mock.url, runRoute('welcome-journey'), { org_reg_id: ORG_ID });

    assert.equal(status, 200);
    const run = body.data;
    assert.deepEqual(Object.keys(run).sort(), [
      'created_at', 'event', 'id', 'nodes_processed', 'org_reg_id', 'profile', 'status', 'trigger', 'updated_at',
    ]);
    assert.match(run.id, UUID_PATTERN);
    assert.equal(run.org_reg_id, ORG_ID);
    assert.equal(run.status, 'queued');
    assert.deepEqual(run.profile, {});
    assert.equal(run.trigger, 'manual');
    assert.deepEqual(run.event, { triggered_by: 'api' });
    assert.equal(run.nodes_processed, null);
    assert.ok(Date.parse(run.created_at) >= started - 1000, run.created_at);
    assert.equal(run.updated_at, run.created_at);
  });

  it('decodes the workflow id segment', async () => {
    for (const workflowId of ['a b?#%', 'ünïcode']) {
      const { status } = await postJson(mock.url, runRoute(workflowId), { org_reg_id: ORG_ID });
      assert.equal(status, 200, workflowId);
    }
  });

  it('returns 404 for an unknown workflow', async () => {
    const { status, body } = await postJson(mock.url, runRoute('no-such-workflow'), { org_reg_id: ORG_ID });

    assert.equal(status, 404);
    assert.deepEqual(body, { message: 'Workflow not found.' });
  });

  it('returns 404 for an id with an encoded slash', async () => {
    mock.state.workflows.add('x/y');
    const { status, body } = await postJson(mock.url, 'v1/workflows/x%2Fy/workflow-runs', { org_reg_id: ORG_ID });

    assert.equal(status, 404);
    assert.match(body.message, /could not be found/);
  });

  it('rejects a missing org_reg_id with 422', async () => {
    const { status, body } = await postJson(mock.url, runRoute('42'), {});

    assert.equal(status, 422);
    assert.deepEqual(body, {
      message: 'The org reg id field is required.',
      errors: { org_reg_id: ['The org reg id field is required.'] },
    });
  });

  it('rejects an invalid org_reg_id with 422', async () => {
    const { status, body } = await postJson(mock.url, runRoute('42'), { org_reg_id: 'a1b2c3d4' });

    assert.equal(status, 422);
    assert.deepEqual(body.errors, { org_reg_id: ['The org reg id field must be a valid UUID.'] });
  });

  it('returns 423 inside the waiting period', async () => {
    const first = await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID });
    assert.equal(first.status, 200);

    const second = await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID.toUpperCase() });
    assert.equal(second.status, 423);
    assert.match(second.body.message, /waiting period/);
  });

  it('keeps waiting periods per workflow and user', async () => {
    const otherUser = 'b1b2c3d4-e5f6-7890-abcd-ef1234567890';
    assert.equal((await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 200);

    assert.equal((await postJson(mock.url, runRoute('42'), { org_reg_id: otherUser })).status, 200);
    assert.equal((await postJson(mock.url, runRoute('welcome-journey'), { org_reg_id: ORG_ID })).status, 200);
  });

  it('clears waiting periods on reset', async () => {
    assert.equal((await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 200);

    await control(mock.url, 'reset', {});
    assert.equal((await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 200);
  });
});

describe('waiting period expiry', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock({ waitingPeriodMs: 300 });
  });
  after(() => mock.close());

  it('allows a new run after the waiting period', async () => {
    assert.equal((await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 200);
    assert.equal((await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 423);

    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await postJson(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 200);
  });
});

describe('routing', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  after(() => mock.close());

  it('returns 405 with Allow for GET on an API path', async () => {
    const response = await fetch(new URL(INCOMING_EVENT, mock.url));

    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'POST');
    assert.match((await response.json()).message, /GET method is not supported/);
  });

  it('returns 405 for PUT on the workflow-runs path', async () => {
    const response = await fetch(new URL(runRoute('42'), mock.url), { method: 'PUT', body: '{}' });

    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'POST');
  });

  it('returns JSON 404 for an unknown API path', async () => {
    for (const route of ['v1/workflows', 'v1/workflows/incoming-event/', 'v1/workflows/42/runs', 'v1/other']) {
      const response = await post(mock.url, route, {});
      assert.equal(response.status, 404, route);
      assert.match(response.headers.get('content-type'), /^application\/json/, route);
      assert.equal(typeof (await response.json()).message, 'string', route);
    }
  });

  it('ignores the query string when routing', async () => {
    const { status } = await postJson(mock.url, `${INCOMING_EVENT}?debug=1`, { organisation_registration_id: ORG_ID });
    assert.equal(status, 200);
  });
});

describe('API base path', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock({ apiBasePath: '/relay/' });
  });
  after(() => mock.close());

  it('serves the API under the base path only', async () => {
    const prefixed = await postJson(mock.url, `relay/${INCOMING_EVENT}`, { organisation_registration_id: ORG_ID });
    assert.equal(prefixed.status, 200);

    const unprefixed = await post(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID });
    assert.equal(unprefixed.status, 404);
  });
});

describe('CORS', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  after(() => mock.close());

  it('echoes the request origin', async () => {
    const response = await post(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID }, { origin: 'http://example.test' });

    assert.equal(response.headers.get('access-control-allow-origin'), 'http://example.test');
    assert.equal(response.headers.get('access-control-expose-headers'), 'Retry-After');
    assert.match(response.headers.get('vary'), /Origin/);
  });

  it('allows any origin without an Origin header', async () => {
    const response = await post(mock.url, INCOMING_EVENT, {}, { authorization: '' });

    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
    assert.equal(response.headers.get('access-control-expose-headers'), 'Retry-After');
  });

  it('adds CORS headers to static and control responses', async () => {
    for (const route of ['mock/server.mjs', 'no-such-file', '__mock/requests']) {
      const response = await fetch(new URL(route, mock.url), { headers: { origin: 'http://example.test' } });
      assert.equal(response.headers.get('access-control-allow-origin'), 'http://example.test', route);
      await response.arrayBuffer();
    }
  });

  it('returns 204 for a preflight', async () => {
    const response = await fetch(new URL(INCOMING_EVENT, mock.url), {
      method: 'OPTIONS',
      headers: {
        origin: 'http://example.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-extra',
      },
    });

    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://example.test');
    assert.equal(response.headers.get('access-control-allow-methods'), 'POST, OPTIONS');
    assert.equal(response.headers.get('access-control-allow-headers'), 'authorization, content-type, x-extra');
    assert.match(response.headers.get('access-control-max-age'), /^\d+$/);
  });

  it('allows default headers when none are requested', async () => {
    const response = await fetch(new URL(runRoute('42'), mock.url), { method: 'OPTIONS' });

    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-headers'), 'authorization, content-type, accept');
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
  });

  it('does not record preflights', async () => {
    await control(mock.url, 'reset', {});
    await fetch(new URL(INCOMING_EVENT, mock.url), { method: 'OPTIONS' });

    const { body } = await control(mock.url, 'requests');
    assert.deepEqual(body.requests, []);
  });
});

describe('recorded requests', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  afterEach(() => control(mock.url, 'reset', {}));
  after(() => mock.close());

  it('records every API request', async () => {
    const validBody = JSON.stringify({ organisation_registration_id: ORG_ID });
    await post(mock.url, INCOMING_EVENT, validBody, { 'X-Custom-Header': 'Value' });
    await post(mock.url, INCOMING_EVENT, validBody, { authorization: 'Bearer wrong' });
    await post(mock.url, INCOMING_EVENT, '{}');
    await fetch(new URL(INCOMING_EVENT, mock.url));

    const { status, body } = await control(mock.url, 'requests');
    assert.equal(status, 200);
    assert.deepEqual(body.requests.map((request) => request.method), ['POST', 'POST', 'POST', 'GET']);

    const [first, unauthorized, invalid] = body.requests;
    assert.equal(first.path, `/${INCOMING_EVENT}`);
    assert.equal(first.body, validBody);
    assert.equal(first.headers['x-custom-header'], 'Value');
    assert.equal(first.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(first.headers['content-type'], 'application/json');
    assert.ok(!Number.isNaN(Date.parse(first.at)), first.at);
    assert.equal(unauthorized.headers.authorization, 'Bearer wrong');
    assert.equal(invalid.body, '{}');
  });

  it('records the path as sent', async () => {
    await post(mock.url, 'v1/workflows/a%20b/workflow-runs?x=1', { org_reg_id: ORG_ID });

    const { body } = await control(mock.url, 'requests');
    assert.equal(body.requests[0].path, '/v1/workflows/a%20b/workflow-runs?x=1');
  });

  it('does not record static or control requests', async () => {
    await (await fetch(new URL('mock/server.mjs', mock.url))).arrayBuffer();
    await control(mock.url, 'requests');

    const { body } = await control(mock.url, 'requests');
    assert.deepEqual(body.requests, []);
  });

  it('clears recorded requests on reset', async () => {
    await post(mock.url, INCOMING_EVENT, {});
    const reset = await control(mock.url, 'reset', {});
    assert.equal(reset.status, 200);

    const { body } = await control(mock.url, 'requests');
    assert.deepEqual(body.requests, []);
  });

  it('exposes recorded requests in state', async () => {
    await post(mock.url, INCOMING_EVENT, {});
    assert.equal(mock.state.requests.length, 1);
    assert.equal(mock.state.requests[0].method, 'POST');
  });
});

describe('scripted responses', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  afterEach(() => control(mock.url, 'reset', {}));
  after(() => mock.close());

  const validEvent = { organisation_registration_id: ORG_ID };

  it('replaces the next response, then normal handling resumes', async () => {
    const queued = await control(mock.url, 'script', {
      responses: [{ status: 503, headers: { 'Retry-After': '1' }, body: { message: 'Service Unavailable' } }],
    });
    assert.deepEqual(queued, { status: 200, body: { queued: 1 } });

    const scripted = await postJson(mock.url, INCOMING_EVENT, validEvent);
    assert.equal(scripted.status, 503);
    assert.equal(scripted.response.headers.get('retry-after'), '1');
    assert.equal(scripted.response.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(scripted.body, { message: 'Service Unavailable' });

    const normal = await postJson(mock.url, INCOMING_EVENT, validEvent);
    assert.equal(normal.status, 200);
  });

  it('uses scripted responses in order', async () => {
    await control(mock.url, 'script', { responses: [{ status: 429 }, { status: 500 }] });

    assert.equal((await post(mock.url, INCOMING_EVENT, validEvent)).status, 429);
    assert.equal((await post(mock.url, INCOMING_EVENT, validEvent)).status, 500);
    assert.equal((await post(mock.url, INCOMING_EVENT, validEvent)).status, 200);
  });

  it('defaults the body to the reason phrase', async () => {
    await control(mock.url, 'script', { responses: [{ status: 504 }] });

    const { status, body } = await postJson(mock.url, INCOMING_EVENT, validEvent);
    assert.equal(status, 504);
    assert.deepEqual(body, { message: 'Gateway Timeout' });
  });

  it('sends a string body as-is', async () => {
    const html = '<html><body><h1>502 Bad Gateway</h1></body></html>';
    await control(mock.url, 'script', {
      responses: [{ status: 502, headers: { 'Content-Type': 'text/html' }, body: html }],
    });

    const response = await post(mock.url, INCOMING_EVENT, validEvent);
    assert.equal(response.status, 502);
    assert.equal(response.headers.get('content-type'), 'text/html');
    assert.equal(await response.text(), html);
  });

  it('sends a non-object JSON body', async () => {
    await control(mock.url, 'script', { responses: [{ status: 200, body: null }] });

    const response = await post(mock.url, INCOMING_EVENT, validEvent);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'null');
  });

  it('removes a header given as null', async () => {
    await control(mock.url, 'script', {
      responses: [{ status: 502, headers: { 'Access-Control-Allow-Origin': null } }],
    });

    const response = await post(mock.url, INCOMING_EVENT, validEvent);
    assert.equal(response.status, 502);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });

  it('replaces authentication and validation', async () => {
    await control(mock.url, 'script', { responses: [{ status: 200, body: { message: 'Event received.', event: {} } }] });

    const { status } = await postJson(mock.url, INCOMING_EVENT, 'not json', { authorization: '' });
    assert.equal(status, 200);
  });

  it('filters by route', async () => {
    await control(mock.url, 'script', { responses: [{ status: 503, path: 'workflow-runs' }] });

    assert.equal((await post(mock.url, INCOMING_EVENT, validEvent)).status, 200);
    assert.equal((await post(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 503);
    assert.equal((await post(mock.url, runRoute('42'), { org_reg_id: ORG_ID })).status, 200);
  });

  it('records scripted requests', async () => {
    await control(mock.url, 'script', { responses: [{ status: 503 }] });
    await post(mock.url, INCOMING_EVENT, validEvent);

    const { body } = await control(mock.url, 'requests');
    assert.equal(body.requests.length, 1);
    assert.equal(body.requests[0].body, JSON.stringify(validEvent));
  });

  it('clears pending responses on reset', async () => {
    await control(mock.url, 'script', { responses: [{ status: 503 }] });
    await control(mock.url, 'reset', {});

    assert.equal((await post(mock.url, INCOMING_EVENT, validEvent)).status, 200);
  });

  it('waits delayMs before responding', async () => {
    await control(mock.url, 'script', { responses: [{ status: 503, delayMs: 200 }] });

    const started = performance.now();
    const response = await post(mock.url, INCOMING_EVENT, validEvent);
    const elapsed = performance.now() - started;
    assert.equal(response.status, 503);
    assert.ok(elapsed >= 190, `responded after ${elapsed} ms`);
  });

  it('hangs past a client timeout', async () => {
    await control(mock.url, 'script', { responses: [{ fault: 'hang' }] });

    await assert.rejects(
      fetch(new URL(INCOMING_EVENT, mock.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(validEvent),
        signal: AbortSignal.timeout(200),
      }),
      { name: 'TimeoutError' },
    );
  });

  it('resets the connection', async () => {
    await control(mock.url, 'script', { responses: [{ fault: 'reset' }] });

    await assert.rejects(post(mock.url, INCOMING_EVENT, validEvent), TypeError);
    assert.equal((await post(mock.url, INCOMING_EVENT, validEvent)).status, 200);
  });

  it('truncates the body', async () => {
    await control(mock.url, 'script', { responses: [{ status: 200, body: { message: 'Event received.', event: { id: 'x' } }, fault: 'truncate' }] });

    const response = await post(mock.url, INCOMING_EVENT, validEvent);
    assert.equal(response.status, 200);
    await assert.rejects(response.text());
  });

  it('trickles the body slowly', async () => {
    const body = { message: 'Event received.' };
    const size = JSON.stringify(body).length;
    await control(mock.url, 'script', { responses: [{ body, fault: 'trickle', trickleBytes: 4, trickleMs: 20 }] });

    const started = performance.now();
    const response = await post(mock.url, INCOMING_EVENT, validEvent);
    assert.deepEqual(await response.json(), body);
    const elapsed = performance.now() - started;
    const minimum = (Math.ceil(size / 4) - 1) * 20;
    assert.ok(elapsed >= minimum - 10, `took ${elapsed} ms, expected at least ${minimum} ms`);
  });

  const invalidScripts = [
    { name: 'missing responses array', script: {} },
    { name: 'status out of range', script: { responses: [{ status: 99 }] } },
    { name: 'non-integer status', script: { responses: [{ status: '503' }] } },
    { name: 'negative delay', script: { responses: [{ delayMs: -1 }] } },
    { name: 'unknown path filter', script: { responses: [{ path: 'other' }] } },
    { name: 'unknown fault', script: { responses: [{ fault: 'explode' }] } },
    { name: 'header with a line break', script: { responses: [{ headers: { 'X-Bad': 'a\r\nb' } }] } },
    { name: 'header value a number', script: { responses: [{ headers: { 'Retry-After': 1 } }] } },
  ];

  for (const { name, script } of invalidScripts) {
    it(`rejects a script with ${name}`, async () => {
      const { status, body } = await control(mock.url, 'script', script);

      assert.equal(status, 400);
      assert.equal(typeof body.message, 'string');
      assert.equal(mock.state.scriptedResponses.length, 0);
    });
  }
});

describe('recorded status', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  afterEach(() => control(mock.url, 'reset', {}));
  after(() => mock.close());

  it('records the status of each response', async () => {
    await post(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID });
    await post(mock.url, INCOMING_EVENT, {});
    await post(mock.url, INCOMING_EVENT, {}, { authorization: 'Bearer wrong' });
    await control(mock.url, 'script', { responses: [{ status: 503, delayMs: 20 }, { status: 200, body: 'x', fault: 'truncate' }] });
    await post(mock.url, INCOMING_EVENT, {});
    await post(mock.url, INCOMING_EVENT, {}).then((response) => response.text()).catch(() => {});
    await fetch(new URL(INCOMING_EVENT, mock.url));

    const { body } = await control(mock.url, 'requests');
    assert.deepEqual(body.requests.map((request) => request.status), [200, 422, 401, 503, 200, 405]);
  });

  it('records the status before the client reads it', async () => {
    const response = await post(mock.url, INCOMING_EVENT, { organisation_registration_id: ORG_ID });

    assert.equal(mock.state.requests[0].status, response.status);
  });

  it('records null when no status was sent', async () => {
    await control(mock.url, 'script', { responses: [{ fault: 'reset' }, { fault: 'hang' }] });
    await assert.rejects(post(mock.url, INCOMING_EVENT, {}), TypeError);
    await assert.rejects(
      fetch(new URL(INCOMING_EVENT, mock.url), { method: 'POST', body: '{}', signal: AbortSignal.timeout(100) }),
      { name: 'TimeoutError' },
    );

    assert.deepEqual(mock.state.requests.map((request) => request.status), [null, null]);
  });
});

describe('recorded requests limit', () => {
  const validEvent = { organisation_registration_id: ORG_ID };

  it('keeps the newest maxRecordedRequests requests', async () => {
    const mock = await startQuietMock({ maxRecordedRequests: 2 });
    try {
      for (const source of ['a', 'b', 'c']) await post(mock.url, INCOMING_EVENT, { ...validEvent, parameters: { source } });

      assert.deepEqual(mock.state.requests.map((request) => JSON.parse(request.body).parameters.source), ['b', 'c']);
    } finally {
      await mock.close();
    }
  });

  it('records nothing with maxRecordedRequests 0', async () => {
    const mock = await startQuietMock({ maxRecordedRequests: 0 });
    try {
      assert.equal((await post(mock.url, INCOMING_EVENT, validEvent)).status, 200);
      assert.deepEqual(mock.state.requests, []);
    } finally {
      await mock.close();
    }
  });

  it('rejects an invalid maxRecordedRequests', async () => {
    for (const maxRecordedRequests of [-1, 1.5, '10', null]) {
      await assert.rejects(startQuietMock({ maxRecordedRequests }), /maxRecordedRequests/, String(maxRecordedRequests));
    }
  });
});

describe('random faults', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  afterEach(() => control(mock.url, 'reset', {}));
  after(() => mock.close());

  const validEvent = { organisation_registration_id: ORG_ID };

  // Sends count events one after another and returns their statuses.
  async function statuses(count, headers) {
    const result = [];
    for (let index = 0; index < count; index += 1) {
      const response = await post(mock.url, INCOMING_EVENT, validEvent, headers);
      await response.arrayBuffer();
      result.push(response.status);
    }
    return result;
  }

  it('faults every request at rate 1, before authentication', async () => {
    const turnedOn = await control(mock.url, 'faults', { rate: 1, status: 503, headers: { 'Retry-After': '0' } });
    assert.deepEqual(turnedOn, { status: 200, body: { rate: 1, seed: 1 } });

    const response = await post(mock.url, INCOMING_EVENT, {}, { authorization: 'Bearer wrong' });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '0');
    assert.deepEqual(await response.json(), { message: 'Service Unavailable' });
    assert.equal(mock.state.requests[0].status, 503);
  });

  it('repeats faults for the same seed', async () => {
    const run = async (seed) => {
      await control(mock.url, 'faults', { rate: 0.5, seed, status: 503 });
      return (await statuses(60)).join(' ');
    };
    const first = await run(7);
    const again = await run(7);
    const other = await run(8);

    assert.equal(again, first);
    assert.notEqual(other, first);
    const faults = first.split(' ').filter((status) => status === '503').length;
    assert.ok(faults >= 15, `${faults} of 60 requests got the fault at rate 0.5`);
    assert.ok(faults <= 45, `${faults} of 60 requests got the fault at rate 0.5`);
  });

  it('faults about rate of the requests', async () => {
    await control(mock.url, 'faults', { rate: 0.1, seed: 1, status: 503 });
    const result = await statuses(300);

    const faults = result.filter((status) => status === 503).length;
    assert.equal(faults + result.filter((status) => status === 200).length, 300);
    assert.ok(faults >= 12, `${faults} of 300 requests got the fault at rate 0.1`);
    assert.ok(faults <= 50, `${faults} of 300 requests got the fault at rate 0.1`);
  });

  it('turns off with rate 0 and with reset', async () => {
    await control(mock.url, 'faults', { rate: 1, status: 500 });
    assert.deepEqual(await control(mock.url, 'faults', { rate: 0 }), { status: 200, body: { rate: 0 } });
    assert.deepEqual(await statuses(3), [200, 200, 200]);

    await control(mock.url, 'faults', { rate: 1, status: 500 });
    await control(mock.url, 'reset', {});
    assert.deepEqual(await statuses(2), [200, 200]);
  });

  it('sends queued scripted responses first', async () => {
    await control(mock.url, 'faults', { rate: 1, status: 503 });
    await control(mock.url, 'script', { responses: [{ status: 429 }] });

    assert.deepEqual(await statuses(2), [429, 503]);
  });

  it('applies path and fault fields', async () => {
    await control(mock.url, 'faults', { rate: 1, path: 'workflow-runs', fault: 'reset' });

    assert.deepEqual(await statuses(1), [200]);
    await assert.rejects(post(mock.url, runRoute('42'), { org_reg_id: ORG_ID }), TypeError);
  });

  const invalidFaults = [
    { name: 'no rate', faults: { status: 503 } },
    { name: 'a rate above 1', faults: { rate: 1.5 } },
    { name: 'a rate that is a string', faults: { rate: '0.1' } },
    { name: 'a negative seed', faults: { rate: 0.1, seed: -1 } },
    { name: 'a seed that is not an integer', faults: { rate: 0.1, seed: 1.5 } },
    { name: 'a status out of range', faults: { rate: 0.1, status: 99 } },
    { name: 'an unknown fault', faults: { rate: 0.1, fault: 'explode' } },
    { name: 'a body that is not an object', faults: [0.1] },
  ];

  for (const { name, faults } of invalidFaults) {
    it(`rejects ${name}`, async () => {
      await control(mock.url, 'faults', { rate: 1, status: 503 });
      const { status, body } = await control(mock.url, 'faults', faults);

      assert.equal(status, 400);
      assert.equal(typeof body.message, 'string');
      assert.doesNotMatch(body.message, /responses\[0\]/);
      assert.equal(mock.state.randomFaults.rate, 1, 'a rejected request leaves the fault as it was');
    });
  }
});

describe('control API routing', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  after(() => mock.close());

  it('returns 405 for a wrong method', async () => {
    const response = await fetch(new URL('__mock/reset', mock.url));

    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'POST');
  });

  it('returns 404 for an unknown control path', async () => {
    const response = await fetch(new URL('__mock/nothing', mock.url));

    assert.equal(response.status, 404);
    assert.equal(typeof (await response.json()).message, 'string');
  });
});

describe('static files', () => {
  let mock;
  let tempDir;
  const files = {
    'www/index.html': { content: '<!doctype html><title>demo</title>', type: 'text/html; charset=utf-8' },
    'www/app.js': { content: 'export {};', type: 'text/javascript; charset=utf-8' },
    'www/lib.mjs': { content: 'export const x = 1;', type: 'text/javascript; charset=utf-8' },
    'www/style.css': { content: 'body {}', type: 'text/css; charset=utf-8' },
    'www/data.json': { content: '{"a":1}', type: 'application/json' },
    'www/logo.svg': { content: '<svg xmlns="http://www.w3.org/2000/svg"/>', type: 'image/svg+xml' },
    'www/sub/index.html': { content: '<p>sub</p>', type: 'text/html; charset=utf-8' },
    'pkg/module_bg.wasm': { content: '\0asm\x01\0\0\0', type: 'application/wasm' },
    'pkg/module.js': { content: 'export default 1;', type: 'text/javascript; charset=utf-8' },
    'secret.txt': { content: 'SECRET-OUTSIDE-ROOT' },
  };

  before(async () => {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mock-static-'));
    for (const [name, { content }] of Object.entries(files)) {
      const file = path.join(tempDir, name);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, content);
    }
    await fs.symlink(path.join(tempDir, 'secret.txt'), path.join(tempDir, 'www', 'link.txt'));
    mock = await startQuietMock({
      staticRoots: [
        { prefix: '/', dir: path.join(tempDir, 'www') },
        { prefix: '/pkg/', dir: path.join(tempDir, 'pkg') },
      ],
    });
  });
  after(async () => {
    await mock.close();
    await fs.rm(tempDir, { recursive: true, force: true });
  });

  const served = [
    ['/app.js', 'www/app.js'],
    ['/lib.mjs', 'www/lib.mjs'],
    ['/style.css', 'www/style.css'],
    ['/data.json', 'www/data.json'],
    ['/logo.svg', 'www/logo.svg'],
    ['/pkg/module_bg.wasm', 'pkg/module_bg.wasm'],
    ['/pkg/module.js', 'pkg/module.js'],
    ['/', 'www/index.html'],
    ['/sub/', 'www/sub/index.html'],
  ];

  for (const [route, name] of served) {
    it(`serves ${route} with its content type`, async () => {
      const response = await fetch(new URL(route, mock.url));

      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), files[name].type);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(await response.text(), files[name].content);
    });
  }

  it('serves HEAD without a body', async () => {
    const response = await rawRequest(mock.url, '/app.js', 'HEAD');

    assert.equal(response.status, 200);
    assert.equal(response.headers['content-length'], String(files['www/app.js'].content.length));
    assert.equal(response.body, '');
  });

  it('redirects a directory without a trailing slash', async () => {
    const response = await fetch(new URL('/sub', mock.url), { redirect: 'manual' });

    assert.equal(response.status, 301);
    assert.equal(response.headers.get('location'), '/sub/');
  });

  it('returns 404 for a missing file', async () => {
    for (const route of ['/missing.js', '/pkg/missing.wasm']) {
      const response = await fetch(new URL(route, mock.url));
      assert.equal(response.status, 404, route);
      assert.equal(typeof (await response.json()).message, 'string', route);
    }
  });

  it('returns 405 for POST to a file', async () => {
    const response = await fetch(new URL('/app.js', mock.url), { method: 'POST', body: 'x' });

    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
  });

  const traversals = [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/pkg/../../secret.txt',
    '/pkg/%2e%2e/%2e%2e/secret.txt',
    '/sub/../../secret.txt',
    '/link.txt',
  ];

  for (const rawPath of traversals) {
    it(`blocks traversal via ${rawPath}`, async () => {
      const response = await rawRequest(mock.url, rawPath);

      assert.equal(response.status, 404);
      assert.doesNotMatch(response.body, /SECRET-OUTSIDE-ROOT/);
    });
  }
});

describe('default static roots', () => {
  let mock;
  before(async () => {
    mock = await startQuietMock();
  });
  after(() => mock.close());

  it('serves the repository www folder at the root', async () => {
    const response = await fetch(new URL('mock/server.mjs', mock.url));

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await response.text(), await fs.readFile(SERVER_FILE, 'utf8'));
  });
});

describe('server options', () => {
  it('returns url, port, close and state', async () => {
    const mock = await startQuietMock();
    try {
      assert.equal(mock.url, `http://127.0.0.1:${mock.port}/`);
      assert.ok(mock.port > 0);
      assert.ok(mock.state.workflows.has('welcome-journey'));
      assert.ok(mock.state.workflows.has('birthday-reward'));
      assert.ok(mock.state.workflows.has('42'));
    } finally {
      await mock.close();
    }
  });

  it('rejects a non-loopback host', async () => {
    for (const host of ['0.0.0.0', '::', 'example.test']) {
      await assert.rejects(startMockServer({ host, port: 0, log: false }), /loopback/, host);
    }
  });

  it('logs one line per request', async () => {
    const lines = [];
    const mock = await startMockServer({ port: 0, log: (line) => lines.push(line) });
    try {
      await (await post(mock.url, INCOMING_EVENT, {}, { authorization: '' })).arrayBuffer();
      await fetch(new URL(INCOMING_EVENT, mock.url), { method: 'OPTIONS' });
    } finally {
      await mock.close();
    }
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^POST \/v1\/workflows\/incoming-event 401 /);
    assert.match(lines[1], /^OPTIONS \/v1\/workflows\/incoming-event 204 /);
  });

  it('closes with a request still hanging', async () => {
    const mock = await startQuietMock();
    await control(mock.url, 'script', { responses: [{ fault: 'hang' }] });
    const pending = post(mock.url, INCOMING_EVENT, {});
    await new Promise((resolve) => setTimeout(resolve, 50));

    await mock.close();
    await assert.rejects(pending, TypeError);
  });
});

describe('command line', () => {
  let child;
  let output = '';
  let url;

  before(async () => {
    child = spawn(process.execPath, [SERVER_FILE, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8');
    const firstLine = await new Promise((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        output += chunk;
        const newline = output.indexOf('\n');
        if (newline !== -1) resolve(output.slice(0, newline));
      });
      child.once('exit', (code) => reject(new Error(`the mock exited with code ${code} before listening`)));
    });
    const match = /^Mock Stampede API listening on (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(firstLine);
    assert.ok(match, `unexpected first line: ${firstLine}`);
    url = match[1];
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('serves requests and logs them', async () => {
    const { status } = await postJson(url, INCOMING_EVENT, { organisation_registration_id: ORG_ID });
    assert.equal(status, 200);

    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(output, /^POST \/v1\/workflows\/incoming-event 200 /m);
  });

  it('stops on SIGTERM', async () => {
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');

    assert.deepEqual(await exited, { code: 0, signal: null });
  });
});
