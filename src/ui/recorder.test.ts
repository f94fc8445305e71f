import { describe, expect, it } from 'vitest';
import { captionFile, inputLevel, PAGE_MAX_BYTES, SessionAudio, timedCaptions, type Caption } from './recorder.js';

const chunk = (bytes: number) => new Blob([new Uint8Array(bytes)]);

const CAPTIONS: Caption[] = [
  { id: 0, start: 0.35, end: 2.01, text: 'go forward ten meters', words: [] },
  { id: 1, start: 64.2, end: 65.4, text: 'go back', words: [] },
];

describe('a live session', () => {
  it('keeps audio chunks up to the size limit, then none at all (a gap would shift later times)', () => {
    const audio = new SessionAudio({ maxBytes: 250, maxSeconds: 60 });
    audio.add(chunk(100), 0.1, 0.1);
    audio.add(chunk(100), 0.2, 0.1);
    audio.add(chunk(100), 0.3, 0.1);
    audio.add(chunk(10), 0.4, 0.1);
    expect([audio.size, audio.seconds, audio.cut]).toEqual([200, 0.2, 'size']);
    expect(audio.file('a.webm').size).toBe(200);
  });

  it('stops keeping a chunk short of the length limit, one chunk of room to spare', () => {
    const audio = new SessionAudio({ maxBytes: 1e6, maxSeconds: 4 });
    for (let k = 1; k <= 20; k++) audio.add(chunk(10), k * 0.25, 0.25);
    expect([audio.cut, audio.seconds, audio.size]).toEqual(['length', 3.75, 150]);
  });

  it('bounds the memory kept by its own limit when the server takes more', () => {
    const audio = new SessionAudio({ maxBytes: 10e9, maxSeconds: 1e6 });
    audio.add(chunk(1), 0.1, 0.1);
    audio.add({ size: PAGE_MAX_BYTES } as Blob, 0.2, 0.1);
    expect([audio.size, audio.cut]).toEqual([1, 'size']);
  });

  it('reads the input level in dBFS from -60 (empty) to 0 (full)', () => {
    const sine = (amplitude: number) => Float32Array.from({ length: 1600 }, (_, i) => amplitude * Math.sin((2 * Math.PI * 440 * i) / 16_000));
    expect(inputLevel(new Float32Array(1600))).toBe(0);
    // A full-scale sine's RMS is -3 dB; one at 1/100 of it, -43 dB; at 1/10000, under the floor.
    expect(inputLevel(sine(1))).toBeCloseTo(57 / 60, 2);
    expect(inputLevel(sine(0.01))).toBeCloseTo(17 / 60, 2);
    expect(inputLevel(sine(0.0001))).toBe(0);
  });

  it('copies and downloads the captions with their times', async () => {
    expect(timedCaptions(CAPTIONS)).toBe('[00:00] go forward ten meters\n[01:04] go back');
    expect(await captionFile(CAPTIONS, 'txt').text()).toBe('[00:00] go forward ten meters\n[01:04] go back\n');
    expect(await captionFile(CAPTIONS, 'vtt').text()).toBe('WEBVTT\n\n00:00:00.350 --> 00:00:02.010\ngo forward ten meters\n\n00:01:04.200 --> 00:01:05.400\ngo back\n');
    expect(await captionFile(CAPTIONS, 'srt').text()).toBe('1\n00:00:00,350 --> 00:00:02,010\ngo forward ten meters\n\n2\n00:01:04,200 --> 00:01:05,400\ngo back\n');
  });
});
