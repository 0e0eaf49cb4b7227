/** A user-facing error: bad input, missing adapter, unreadable file. The CLI prints
 * its message alone; anything else that throws is a bug and keeps its stack. */
export class LeeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeeError';
  }
}
