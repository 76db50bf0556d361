import { isRealTimestamp } from './calendar';

describe('isRealTimestamp', () => {
  it.each(['2024-02-29T10:00:00Z', '2025-12-31T23:59:59.999999Z', '2026-01-01', '2026-11-28 21:07:22.636+00'])('accepts %s', (text) => {
    expect(isRealTimestamp(text)).toBe(true);
  });

  it.each(['2025-02-29T00:00:00Z', '2024-02-31T00:00:00Z', '2024-13-01T00:00:00Z', '2024-00-10', '2024-01-01T24:00:00Z', '2024-01-01T10:60:00Z', 'yesterday'])(
    'refuses %s',
    (text) => {
      expect(isRealTimestamp(text)).toBe(false);
    },
  );
});
