import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWhisperBinding, type WhisperBinding } from './binding.js';

/** whisper.cpp's own test model: it loads, and whisper.cpp warns that it has no tensors. */
const WHISPER_TEST_MODEL = join(import.meta.dirname, '../../../../shared/models/for-tests-ggml-tiny.en.bin');

/**
 * Loads while the server is busy right after: the load starts in one immediate
 * and another keeps the event loop for 100 ms (as another engine loading or a
 * request being parsed would), so the loop's next poll phase, where whisper.cpp's
 * log lines arrive, comes only after that.
 */
function loadWhileBusy(binding: WhisperBinding, path: string): ReturnType<WhisperBinding['load']> {
  return new Promise((resolve, reject) => {
    setImmediate(() => void binding.load(path).then(resolve, reject));
    setImmediate(() => {
      const until = performance.now() + 100;
      while (performance.now() < until);
    });
  });
}

describe('the whisper.cpp binding', () => {
  it("reports whisper.cpp's warnings for a load even when the server is busy as the load returns", async () => {
    const binding = await loadWhisperBinding();
    const { context, warnings } = await loadWhileBusy(binding, WHISPER_TEST_MODEL);
    await binding.release(context);
    expect(warnings.join(' ')).toMatch(/no tensors loaded/);
  });

  it("fails with whisper.cpp's own reason for a file it cannot load (not the binding's bare \"Failed to initialize\")", async () => {
    const binding = await loadWhisperBinding();
    await expect(loadWhileBusy(binding, join(import.meta.dirname, 'binding.ts'))).rejects.toThrow(/^failed to load model$/);
  });
});
