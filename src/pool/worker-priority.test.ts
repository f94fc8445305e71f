import { describe, expect, it } from 'vitest';
import { workerNiceValue } from './worker-priority.js';

describe('workerNiceValue', () => {
  it('puts workers WORKER_NICE steps below the server, 19 at most', () => {
    expect(workerNiceValue(5, 0)).toBe(5);
    expect(workerNiceValue(0, 3)).toBe(3);
    expect(workerNiceValue(5, 17)).toBe(19);
    expect(workerNiceValue(19, -5)).toBe(14);
  });
});
