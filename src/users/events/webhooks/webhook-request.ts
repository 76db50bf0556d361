import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { WebhookAllowList } from './webhook-allow-list';

// One POST to a webhook target, resolved once the target answered 2xx. The host is resolved here
// and checked against the allow-list, and the connection goes to that checked address (a custom
// `lookup`: no second resolution a rebinding DNS server could answer differently). Redirects are
// not followed, the response body is never read, and `signal` aborts the request.
export async function postWebhook(url: string, headers: Record<string, string>, body: string, allowList: WebhookAllowList, signal: AbortSignal): Promise<void> {
  const target = new URL(url);
  if (!allowList.allowsHost(target.hostname)) throw new Error(`host ${target.hostname} is not in the webhook allow-list`);
  const address = await checkedAddress(target.hostname, allowList);
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  };
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const call = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup,
        agent: false,
        signal,
      },
      resolve,
    );
    call.on('error', (error: NodeJS.ErrnoException) => reject(new Error(`webhook request failed: ${error.code ?? error.name}`)));
    call.end(body);
  });
  // Only the status matters; closing the connection also bounds what the target can send.
  response.destroy();
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) throw new Error(`webhook answered ${status}`);
}

// The first address of the host that the allow-list lets us call (an IP literal is its own).
async function checkedAddress(hostname: string, allowList: WebhookAllowList): Promise<{ address: string; family: number }> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(host);
  let candidates: { address: string; family: number }[];
  if (family !== 0) {
    candidates = [{ address: host, family }];
  } else {
    try {
      candidates = await dnsLookup(host, { all: true, verbatim: true });
    } catch (error) {
      throw new Error(`webhook host ${host} did not resolve: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`);
    }
  }
  const issues: string[] = [];
  for (const candidate of candidates) {
    const issue = allowList.addressIssue(host, candidate.address);
    if (issue === undefined) return candidate;
    issues.push(issue);
  }
  throw new Error(issues[0] ?? `webhook host ${host} has no address`);
}
