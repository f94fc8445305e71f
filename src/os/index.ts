export { readRssBytes, readStartTime, killGroup } from './proc.js';
export { ScratchDir, processScratchDir, type ScratchOwner } from './scratch.js';
export { fileClosed, pipeToFile } from './file-sink.js';
export { diskSpace, fits, megabytes, type DiskSpace } from './disk.js';
