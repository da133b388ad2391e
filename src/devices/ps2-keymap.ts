// Typed characters as a US-layout PC keyboard sends them: scan code set 2 make codes (the set
// a PS/2 keyboard uses; the 8042 translates them to set 1 for the OS when asked), with the
// Shift or Ctrl key held around them. For hosts that have text rather than key events (the
// CLI's stdin); the page sends real key events.

const LEFT_SHIFT = 0x12;
const LEFT_CTRL = 0x14;
const BREAK = 0xf0;

/** Unshifted and shifted characters of each key, by its set 2 make code. */
const KEYS: [number, string, string][] = [
  [0x0e, '`', '~'], [0x16, '1', '!'], [0x1e, '2', '@'], [0x26, '3', '#'], [0x25, '4', '$'], [0x2e, '5', '%'],
  [0x36, '6', '^'], [0x3d, '7', '&'], [0x3e, '8', '*'], [0x46, '9', '('], [0x45, '0', ')'], [0x4e, '-', '_'],
  [0x55, '=', '+'], [0x15, 'q', 'Q'], [0x1d, 'w', 'W'], [0x24, 'e', 'E'], [0x2d, 'r', 'R'], [0x2c, 't', 'T'],
  [0x35, 'y', 'Y'], [0x3c, 'u', 'U'], [0x43, 'i', 'I'], [0x44, 'o', 'O'], [0x4d, 'p', 'P'], [0x54, '[', '{'],
  [0x5b, ']', '}'], [0x5d, '\\', '|'], [0x1c, 'a', 'A'], [0x1b, 's', 'S'], [0x23, 'd', 'D'], [0x2b, 'f', 'F'],
  [0x34, 'g', 'G'], [0x33, 'h', 'H'], [0x3b, 'j', 'J'], [0x42, 'k', 'K'], [0x4b, 'l', 'L'], [0x4c, ';', ':'],
  [0x52, "'", '"'], [0x1a, 'z', 'Z'], [0x22, 'x', 'X'], [0x21, 'c', 'C'], [0x2a, 'v', 'V'], [0x32, 'b', 'B'],
  [0x31, 'n', 'N'], [0x3a, 'm', 'M'], [0x41, ',', '<'], [0x49, '.', '>'], [0x4a, '/', '?'], [0x29, ' ', ' '],
];
/** Keys that type a control character. */
const CONTROL_KEYS: [number, number][] = [[0x5a, 0x0d], [0x5a, 0x0a], [0x66, 0x7f], [0x66, 0x08], [0x0d, 0x09], [0x76, 0x1b]];

const plain = new Map<number, number>();
const shifted = new Map<number, number>();
for (const [code, lower, upper] of KEYS) {
  if (!plain.has(lower.charCodeAt(0))) plain.set(lower.charCodeAt(0), code);
  if (upper !== lower) shifted.set(upper.charCodeAt(0), code);
}
for (const [code, ch] of CONTROL_KEYS) if (!plain.has(ch)) plain.set(ch, code);

/** A tap of one key: its make code, then F0 and the code. */
const tap = (code: number): number[] => [code, BREAK, code];
/** `code` tapped while `modifier` is held. */
const withModifier = (modifier: number, code: number): number[] => [modifier, ...tap(code), BREAK, modifier];

/**
 * The set 2 bytes that type `bytes` (ASCII) on a US keyboard: Shift for capitals and symbols,
 * Ctrl for control characters (Ctrl-A for 0x01 ...). Bytes no key types (non-ASCII) are skipped.
 */
export function scancodesFor(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const b of bytes) {
    const p = plain.get(b);
    if (p !== undefined) { out.push(...tap(p)); continue; }
    const s = shifted.get(b);
    if (s !== undefined) { out.push(...withModifier(LEFT_SHIFT, s)); continue; }
    if (b >= 0x01 && b <= 0x1a) out.push(...withModifier(LEFT_CTRL, plain.get(0x60 + b)!)); // Ctrl-A .. Ctrl-Z
  }
  return out;
}
