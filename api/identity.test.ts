import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import {
  CertifyRequest,
  CertifyResponse,
  IdentityClient,
  IdentityService,
  type IdentityServer,
} from './gen/weft/identity/v1/identity.js';

const request: CertifyRequest = {
  identity: 'spiffe://cluster.local/ns/books/sa/web',
  token: 'eyJhbGciOiJSUzI1NiJ9.payload.signature',
  csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n',
};

test('CertifyRequest survives an encode/decode round trip', () => {
  const bytes = CertifyRequest.encode(request).finish();
  assert.ok(bytes.length > request.csrPem.length);
  assert.deepEqual(CertifyRequest.decode(bytes), request);
});

test('CertifyResponse keeps the chain order and valid_until to the millisecond', () => {
  const response: CertifyResponse = {
    leafPem: 'leaf',
    chainPem: ['issuer', 'intermediate-2'],
    validUntil: new Date('2026-01-02T03:04:05.678Z'),
  };
  const decoded = CertifyResponse.decode(CertifyResponse.encode(response).finish());
  assert.deepEqual(decoded, response);
  assert.equal(decoded.validUntil?.toISOString(), '2026-01-02T03:04:05.678Z');
});

test('Identity service exposes exactly the unary Certify method', () => {
  assert.deepEqual(Object.keys(IdentityService), ['certify']);
  assert.equal(IdentityService.certify.path, '/weft.identity.v1.Identity/Certify');
  assert.equal(IdentityService.certify.requestStream, false);
  assert.equal(IdentityService.certify.responseStream, false);
});

test('Certify works end to end through grpc-js with the generated client and server types', async (t) => {
  const server = new Server();
  const impl: IdentityServer = {
    certify: (call, callback) => {
      callback(null, { leafPem: `leaf for ${call.request.identity}`, chainPem: ['issuer'], validUntil: new Date(86_400_000) });
    },
  };
  server.addService(IdentityService, impl);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const client = new IdentityClient(`127.0.0.1:${port}`, credentials.createInsecure());
  t.after(() => {
    client.close();
    server.forceShutdown();
  });
  const response = await new Promise<CertifyResponse>((resolve, reject) => {
    client.certify(request, (err, res) => (err ? reject(err) : resolve(res)));
  });
  assert.equal(response.leafPem, 'leaf for spiffe://cluster.local/ns/books/sa/web');
  assert.deepEqual(response.chainPem, ['issuer']);
  assert.equal(response.validUntil?.getTime(), 86_400_000);
});
