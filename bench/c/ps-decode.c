/*
 * The bare engine: Debian's PocketSphinx with nothing around it, the yardstick
 * of `npm run bench:engine-overhead` (bench/engine-overhead.ts builds it with
 * cc and pkg-config, runs it and hark on the same clips).
 *
 *   ps-decode [-name value ...] -- FILE...
 *
 * The decoder arguments are hark's (the bench passes the model paths and
 * TUNED_ARGS of src/engines/pocketsphinx/engine.ts). Each FILE is a 16 kHz
 * mono s16le WAV (its data chunk is read) or raw PCM, decoded as ONE utterance
 * the way hark's addon decodes one (native/pocketsphinx/src/addon.cc,
 * DecodeWorker): ps_start_stream, ps_start_utt, ps_process_raw of the whole
 * clip with full_utt (batch CMN), ps_end_utt, ps_get_hyp. Nothing else: no
 * word posteriors, no second front end. Prints one line per file,
 * "hyp<TAB>FILE<TAB>hypothesis", then "cpu<TAB>load_s<TAB>decode_s<TAB>start<TAB>end": process CPU
 * seconds for the model load and for the decodes, and when the decodes began and ended (seconds since
 * the epoch, so that the span of several processes can be taken).
 */
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads FILE into *pcm: the data chunk of a RIFF/WAVE file, else the whole file as raw s16le. */
static size_t read_pcm(const char *path, int16_t **pcm) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return (size_t)-1;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
  size_t got = fread(buf, 1, (size_t)size, f);
  fclose(f);
  size_t start = 0, bytes = got;
  if (got >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WAVE", 4) == 0) {
    bytes = 0;
    for (size_t at = 12; at + 8 <= got;) {
      uint32_t len = buf[at + 4] | buf[at + 5] << 8 | buf[at + 6] << 16 | (uint32_t)buf[at + 7] << 24;
      if (memcmp(buf + at, "data", 4) == 0) {
        start = at + 8;
        bytes = len < got - start ? len : got - start;
        break;
      }
      at += 8 + len + (len & 1);
    }
  }
  *pcm = malloc(bytes > 0 ? bytes : 1);
  memcpy(*pcm, buf + start, bytes);
  free(buf);
  return bytes / 2;
}

int main(int argc, char **argv) {
  int sep = 1;
  while (sep < argc && strcmp(argv[sep], "--") != 0) sep++;
  if (sep >= argc - 1) {
    fprintf(stderr, "usage: %s [-name value ...] -- FILE...\n", argv[0]);
    return 2;
  }
  err_set_logfp(NULL); /* as hark's addon: PocketSphinx logs every step otherwise */
  double load0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
  cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), sep - 1, argv + 1, TRUE);
  ps_decoder_t *ps = config != NULL ? ps_init(config) : NULL;
  if (ps == NULL) {
    fprintf(stderr, "ps-decode: PocketSphinx could not load (check the arguments and model paths)\n");
    return 1;
  }
  double load = seconds(CLOCK_PROCESS_CPUTIME_ID) - load0;
  double cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID), start = seconds(CLOCK_REALTIME);
  for (int i = sep + 1; i < argc; i++) {
    int16_t *pcm = NULL;
    size_t n = read_pcm(argv[i], &pcm);
    if (n == (size_t)-1) {
      fprintf(stderr, "ps-decode: cannot read %s\n", argv[i]);
      return 1;
    }
    if (ps_start_stream(ps) < 0 || ps_start_utt(ps) < 0 || (n > 0 && ps_process_raw(ps, pcm, n, FALSE, TRUE) < 0) || ps_end_utt(ps) < 0) {
      fprintf(stderr, "ps-decode: decoding %s failed\n", argv[i]);
      return 1;
    }
    int32 score;
    const char *hyp = ps_get_hyp(ps, &score);
    printf("hyp\t%s\t%s\n", argv[i], hyp != NULL ? hyp : "");
    free(pcm);
  }
  double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  printf("cpu\t%.4f\t%.4f\t%.6f\t%.6f\n", load, cpu, start, seconds(CLOCK_REALTIME));
  ps_free(ps);
  cmd_ln_free_r(config);
  return 0;
}
