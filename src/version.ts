/** hark's version, in a module of its own: the CLI prints it without loading the HTTP layer. */
export const VERSION = '0.1.0';
