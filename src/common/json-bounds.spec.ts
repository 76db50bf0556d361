import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { JsonBoundsScanner, type JsonBounds } from './json-bounds';

// Feeds `text` in chunks of `chunkBytes`; resolves with the error message, or undefined if passed.
async function scan(text: string, bounds: JsonBounds, chunkBytes = 3): Promise<string | undefined> {
  const bytes = Buffer.from(text);
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunkBytes) }, (_, i) => bytes.subarray(i * chunkBytes, (i + 1) * chunkBytes));
  const received: Buffer[] = [];
  try {
    await pipeline(Readable.from(chunks), new JsonBoundsScanner(bounds), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) received.push(chunk);
    });
  } catch (error) {
    return (error as Error).message;
  }
  expect(Buffer.concat(received).toString()).toBe(text);
  return undefined;
}

describe('JsonBoundsScanner', () => {
  const bounds = { maxDepth: 3, maxNodes: 6 };

  it('passes a body within its bounds through unchanged', async () => {
    await expect(scan('{"a":[1,2],"b":{"c":"d"}}', bounds)).resolves.toBeUndefined();
  });

  it('refuses a body nested deeper than the bound', async () => {
    await expect(scan('{"a":[[1]]}', bounds)).resolves.toBeUndefined();
    await expect(scan('{"a":[[[1]]]}', bounds)).resolves.toMatch(/nest at most 3 levels/);
  });

  it('refuses a body with more values than the bound', async () => {
    await expect(scan('[{},{},{},{},{}]', bounds)).resolves.toMatch(/at most 6 values/);
  });

  it('ignores brackets, commas and escaped quotes inside strings, across chunk borders', async () => {
    const text = JSON.stringify({ a: '[[[[,,,,,,,,{{{{ \\" \\\\', b: 'ü,€,😀' });
    for (const chunkBytes of [1, 2, 5, 64]) await expect(scan(text, bounds, chunkBytes)).resolves.toBeUndefined();
  });
});
