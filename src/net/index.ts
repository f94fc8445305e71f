export {
  addressProblem, checkOutboundUrl, guardedLookup, OutboundRefusedError, parseOutboundAllow, refusedRange, type OutboundAllow,
} from './outbound.js';
