import { WebhookAllowList } from './webhook-allow-list';

describe('WebhookAllowList', () => {
  const list = new WebhookAllowList(['hooks.example.com', '*.partner.example', '203.0.113.0/24', '10.9.9.9', 'internal.example', '[fd00::1]']);

  it('accepts http(s) URLs to listed hosts, suffix patterns and addresses only', () => {
    expect(list.urlIssue('https://hooks.example.com/in')).toBeUndefined();
    expect(list.urlIssue('https://HOOKS.example.com./in')).toBeUndefined();
    expect(list.urlIssue('https://a.b.partner.example/in')).toBeUndefined();
    expect(list.urlIssue('http://203.0.113.7:8080/in')).toBeUndefined();
    expect(list.urlIssue('http://[fd00::1]/in')).toBeUndefined();
    // The suffix pattern does not cover the domain itself, nor look-alikes.
    expect(list.urlIssue('https://partner.example/in')).toMatch(/not in the webhook allow-list/);
    expect(list.urlIssue('https://evilpartner.example/in')).toMatch(/not in the webhook allow-list/);
    expect(list.urlIssue('https://hooks.example.com.evil.test/in')).toMatch(/not in the webhook allow-list/);
    expect(list.urlIssue('http://10.0.0.1/in')).toMatch(/not in the webhook allow-list/);
    expect(list.urlIssue('http://127.0.0.1/in')).toMatch(/not in the webhook allow-list/);
    expect(list.urlIssue('https://user:pw@hooks.example.com/in')).toBe('must not carry credentials');
    expect(list.urlIssue('file:///etc/passwd')).toBe('must be an http or https URL');
    expect(list.urlIssue('hooks.example.com/in')).toBe('must be an absolute http or https URL');
  });

  it('refuses internal addresses a listed name resolves to, unless the name or the address is listed exactly', () => {
    expect(list.addressIssue('hooks.example.com', '93.184.216.34')).toBeUndefined();
    for (const address of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd12::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:a00:1', '::7f00:1', '64:ff9b::a00:1', '64:ff9b:1::1', '2002:a00:1::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'fec0::1']) {
      expect(list.addressIssue('x.partner.example', address)).toMatch(/resolves to the internal address/);
    }
    // Listed exactly: an operator's decision.
    expect(list.addressIssue('internal.example', '10.1.2.3')).toBeUndefined();
    expect(list.addressIssue('x.partner.example', '10.9.9.9')).toBeUndefined();
    expect(list.addressIssue('fd00::1', 'fd00::1')).toBeUndefined();
  });

  it('refuses entries that are no host, pattern, address or CIDR', () => {
    for (const entry of ['not a host', 'http://hooks.example.com', '10.0.0.0/33', '*.', '**.example.com', 'a/b']) {
      expect(WebhookAllowList.entryIssue(entry)).toBeDefined();
      expect(() => new WebhookAllowList([entry])).toThrow();
    }
    for (const entry of ['hooks.example.com', '*.example.com', '10.0.0.0/8', '::1', '[::1]', 'fd00::/8', 'localhost']) expect(WebhookAllowList.entryIssue(entry)).toBeUndefined();
  });
});
