export { readRssBytes, readStartTime, killGroup } from './proc.js';
export { ScratchDir, processScratchDir, type ScratchOwner } from './scratch.js';
