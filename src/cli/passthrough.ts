/**
 * Words after `--` (the command of an ad-hoc service). citty only hands
 * subcommands their own rawArgs, so the split is kept here.
 */
let words: string[] = [];

export function setPassthrough(next: string[]): void {
  words = next;
}

export function passthrough(): string[] {
  return words;
}
