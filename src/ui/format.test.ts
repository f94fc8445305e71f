import { describe, expect, it } from 'vitest';
import { clock, count, percent, span, stamp, when } from './format.js';

const NBSP = '\u00a0';
/** Reads a figure with its no-break spaces shown as plain ones. */
const plain = (s: string) => s.replaceAll(NBSP, ' ');

describe('the page\'s numbers', () => {
  it('floors every duration to the unit it shows, so one figure reads the same everywhere', () => {
    expect(plain(span(119.7))).toBe('1 min 59 s');
    expect(clock(119.7)).toBe('1:59');
    expect(plain(span(163.6))).toBe('2 min 43 s');
    expect(clock(163.6)).toBe('2:43');
    expect(plain(span(59.99))).toBe('59 s');
    expect(plain(span(9.99))).toBe('9.9 s');
    expect(plain(span(2.3))).toBe('2.3 s');
    expect(plain(span(3599.9))).toBe('59 min 59 s');
    expect(plain(span(3723))).toBe('1 h 2 min');
    expect(clock(3723)).toBe('1:02:03');
    expect(span(null)).toBe('–');
  });

  it('stamps segment starts in tenths without float error', () => {
    expect(stamp(2.3)).toBe('0:02.3');
    expect(stamp(7.45)).toBe('0:07.4');
    expect(stamp(59.96)).toBe('0:59.9');
    expect(stamp(60)).toBe('1:00.0');
  });

  it('says "1 word" and "2 words"', () => {
    expect(count(1, 'word')).toBe('1 word');
    expect(count(0, 'word')).toBe('0 words');
    expect(count(2, 'speaker')).toBe('2 speakers');
  });

  it('keeps a percentage and its sign together, and never shows 100 % before the end', () => {
    expect(percent(0.71)).toBe(`71${NBSP}%`);
    expect(percent(0.996)).toBe(`99${NBSP}%`);
    expect(percent(1)).toBe(`100${NBSP}%`);
    expect(span(4)).toBe(`4.0${NBSP}s`);
  });

  it('writes times of day on a 24-hour clock', () => {
    const evening = new Date();
    evening.setHours(21, 5, 9, 0);
    expect(when(evening.toISOString())).toMatch(/21.05.09/);
    expect(when(evening.toISOString())).not.toMatch(/PM|AM/i);
  });
});
