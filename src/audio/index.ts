export { decodeToPcm, probeAudio, statedLengthAllowance, tooLong, SAMPLE_RATE, BYTES_PER_SAMPLE, type PcmAudio, type ProbeResult, type DecodeOptions } from './decode.js';
export { readPcmRange, frameEnergies, forEachPcmChunk, FRAME_SAMPLES, concatPcm } from './pcm.js';
export { cutAtSilences, type FrameRange, type SegmentOptions } from './segment.js';
export { runProcess, type RunResult } from './process.js';
export { sniffAudio, type Sniffed } from './sniff.js';
export { utterances, encodeWav, type Utterance, type UtteranceOptions } from './utterances.js';
export { StreamDecoder, STREAM_ENCODINGS, parseStreamEncoding, type StreamEncoding } from './stream-decoder.js';
export { Endpointer, type EndpointEvent, type EndpointerOptions } from './endpointer.js';
export { VadEndpointer, energyLiveEndpointer, type LiveEndpointer, type LiveEndpointEvent, type VadEndpointerOptions, type VadParts } from './vad-endpointer.js';
