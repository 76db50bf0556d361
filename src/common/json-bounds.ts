import { Transform, type TransformCallback } from 'node:stream';

export interface JsonBounds {
  maxDepth: number;
  maxNodes: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

export class JsonBoundsError extends Error {
  readonly statusCode = 400;
}

// Counts the structure of a JSON body as its bytes arrive, before anything parses it: nesting
// depth, and nodes (every object and array, and every item after the first of each). A body
// past either bound is refused after the chunk that crossed it, so a 10 MB array of empty
// objects costs a few hundred microseconds instead of a parse, a transformation and a
// validation of millions of values. Structural characters are ASCII, never part of a multi-byte
// UTF-8 sequence, so bytes can be scanned without decoding.
export class JsonBoundsScanner extends Transform {
  private depth = 0;
  private nodes = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly bounds: JsonBounds) {
    super();
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const error = this.scan(bytes);
    if (error) done(error);
    else done(null, bytes);
  }

  // Also public for a body some other parser already read in whole (jsonBoundsError).
  scan(bytes: Buffer): JsonBoundsError | undefined {
    const { maxDepth, maxNodes } = this.bounds;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (byte === QUOTE) {
        this.inString = true;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        if (++this.depth > maxDepth) return new JsonBoundsError(`JSON bodies may nest at most ${maxDepth} levels`);
        if (++this.nodes > maxNodes) return new JsonBoundsError(`This route takes JSON bodies of at most ${maxNodes} values`);
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        this.depth--;
      } else if (byte === COMMA) {
        if (++this.nodes > maxNodes) return new JsonBoundsError(`This route takes JSON bodies of at most ${maxNodes} values`);
      }
    }
    return undefined;
  }
}

// The same bounds over a whole body at once: under Express a host's own JSON parser may have read
// a body before the module's routes see it, and its JSON text is scanned again.
export function jsonBoundsError(text: string, bounds: JsonBounds): JsonBoundsError | undefined {
  return new JsonBoundsScanner(bounds).scan(Buffer.from(text));
}
