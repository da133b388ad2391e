// The one error type of the boot loader. Its message is a single line meant for the user
// ("bzImage: boot protocol 2.04 is too old (need 2.06 or later)"); callers print it as is.

export class BootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootError';
  }
}
