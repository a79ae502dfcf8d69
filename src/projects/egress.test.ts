import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { allowed, policiesSettingProblems, proxyTarget } from './egress.js';
import { EgressProxy } from './egress-proxy.js';

describe('egress policy (pure)', () => {
  it('allows listed host:port pairs only; *. matches subdomains, not the bare domain', () => {
    const p = { allow: ['pypi.org:443', '*.example.com:443', '[::1]:8080'] };
    assert.equal(allowed(p, 'pypi.org', 443), true);
    assert.equal(allowed(p, 'PyPI.org.', 443), true);
    assert.equal(allowed(p, 'pypi.org', 80), false);
    assert.equal(allowed(p, 'evilpypi.org', 443), false);
    assert.equal(allowed(p, 'a.example.com', 443), true);
    assert.equal(allowed(p, 'example.com', 443), false);
    assert.equal(allowed(p, 'a.example.com.evil.net', 443), false);
    assert.equal(allowed(p, '[::1]', 8080), true);
  });

  it('parses proxy targets: CONNECT authority or absolute http:// only', () => {
    assert.deepEqual(proxyTarget('CONNECT', 'pypi.org:443'), { host: 'pypi.org', port: 443, path: '' });
    assert.deepEqual(proxyTarget('GET', 'http://h.test:8080/a?b=1'), { host: 'h.test', port: 8080, path: '/a?b=1' });
    assert.equal(proxyTarget('GET', '/relative'), null);
    assert.equal(proxyTarget('GET', 'https://h.test/'), null);
    assert.equal(proxyTarget('GET', 'http://user:pw@h.test/'), null);
    assert.equal(proxyTarget('CONNECT', 'h.test:99999'), null);
  });

  it('validates settings network.policies, naming each bad key', () => {
    assert.deepEqual(policiesSettingProblems({ web: { allow: ['a.b:443'], maxBytes: 10, maxRequests: 1 } }), []);
    const bad = policiesSettingProblems({ web: { allow: ['A.B:443', 'x'], maxBytes: 0, maxRequests: 1.5, extra: 1 } });
    assert.equal(bad.length, 4);
  });
});

describe('EgressProxy', () => {
  it('forwards an allowed request, answers 403 for another host, and logs both', async () => {
    const origin = http.createServer((_req, res) => res.end('origin says hi'));
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    const port = (origin.address() as AddressInfo).port;
    const proxy = await EgressProxy.start({
      policyName: 'p',
      policy: { allow: [`localhost:${port}`], maxBytes: 1e6, maxRequests: 10 },
    });
    const ask = (target: string) =>
      new Promise<string>((resolve, reject) => {
        const c = net.connect(proxy.socketPath);
        let data = '';
        c.on('data', (d) => (data += d));
        c.on('end', () => resolve(data));
        c.on('error', reject);
        c.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: secret\r\n\r\n`);
      });
    try {
      assert.match(await ask(`http://localhost:${port}/`), /origin says hi$/);
      assert.match(
        await ask(`http://127.0.0.1:${port}/`),
        /^HTTP\/1\.1 403 Forbidden[\s\S]*not allowed by network policy "p"/,
      );
      // The allowed connection is logged when it closes, which may be just after the reply ends.
      for (let i = 0; i < 200 && proxy.log().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(
        proxy
          .log()
          .map((e) => e.decision)
          .sort(),
        ['allowed', 'denied'],
      );
      assert.equal(proxy.usage().requests, 1);
    } finally {
      await proxy.close();
      origin.close();
    }
  });
  it('refuses connections beyond the open-connection cap instead of holding them', async () => {
    const proxy = await EgressProxy.start({ policyName: 'p', policy: { allow: [], maxBytes: 1, maxRequests: 1 } });
    const sockets: net.Socket[] = [];
    const replies: string[] = [];
    try {
      // 140 silent connections at once: the proxy holds 128 sockets at most and answers the rest 503.
      for (let k = 0; k < 140; k++) {
        const c = net.connect(proxy.socketPath);
        sockets.push(c);
        c.once('data', (d) => replies.push(String(d)));
        c.on('error', () => {}); // the refused ones are closed by the proxy
      }
      for (let i = 0; i < 1000 && proxy.log().length < 12; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(proxy.log().length, 12, 'each refusal is logged');
      assert.ok(proxy.log().every((e) => e.error === 'at most 64 connections at once'));
      for (let i = 0; i < 1000 && replies.length < 12; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(replies.filter((r) => r.startsWith('HTTP/1.1 503 Service Unavailable')).length, 12);
    } finally {
      for (const s of sockets) s.destroy();
      await proxy.close();
    }
  });
});
