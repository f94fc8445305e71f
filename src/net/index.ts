export {
  addressProblem, checkOutboundUrl, guardedDispatcher, guardedLookup, OutboundRefusedError, parseOutboundAllow, refusedRange, type OutboundAllow,
} from './outbound.js';
export { BodyTooLargeError, readBodyLimited } from './body.js';
