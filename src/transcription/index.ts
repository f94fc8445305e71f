export { TranscriptionService, type TranscribeFileRequest, type TranscriptionObserver } from './service.js';
export { transcriptionResponseSchema, type TranscriptionResponse } from './schema.js';
export { RESPONSE_FORMATS, CONTENT_TYPES, renderText, toSrt, toVtt, toText, captionCues, type ResponseFormat, type Cue } from './formats.js';
export { StreamSession, streamConfigSchema, type StreamObserver, type StreamSocket } from './stream-session.js';
