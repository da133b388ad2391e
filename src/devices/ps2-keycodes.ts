// Keys by their position, as the page's KeyboardEvent.code names them (W3C UI Events
// KeyboardEvent code values), to the scan code set 2 make codes a PS/2 keyboard sends for them
// (the set 2 table of IBM's keyboard technical reference; E0 marks the extended keys).
// Position, not character: the guest applies its own layout, as with a real keyboard.

const E0 = 0xe0;

const SET2: Record<string, number[]> = {
  Escape: [0x76], F1: [0x05], F2: [0x06], F3: [0x04], F4: [0x0c], F5: [0x03], F6: [0x0b], F7: [0x83], F8: [0x0a],
  F9: [0x01], F10: [0x09], F11: [0x78], F12: [0x07],
  Backquote: [0x0e], Digit1: [0x16], Digit2: [0x1e], Digit3: [0x26], Digit4: [0x25], Digit5: [0x2e], Digit6: [0x36],
  Digit7: [0x3d], Digit8: [0x3e], Digit9: [0x46], Digit0: [0x45], Minus: [0x4e], Equal: [0x55], Backspace: [0x66],
  Tab: [0x0d], KeyQ: [0x15], KeyW: [0x1d], KeyE: [0x24], KeyR: [0x2d], KeyT: [0x2c], KeyY: [0x35], KeyU: [0x3c],
  KeyI: [0x43], KeyO: [0x44], KeyP: [0x4d], BracketLeft: [0x54], BracketRight: [0x5b], Backslash: [0x5d],
  CapsLock: [0x58], KeyA: [0x1c], KeyS: [0x1b], KeyD: [0x23], KeyF: [0x2b], KeyG: [0x34], KeyH: [0x33], KeyJ: [0x3b],
  KeyK: [0x42], KeyL: [0x4b], Semicolon: [0x4c], Quote: [0x52], Enter: [0x5a],
  ShiftLeft: [0x12], IntlBackslash: [0x61], KeyZ: [0x1a], KeyX: [0x22], KeyC: [0x21], KeyV: [0x2a], KeyB: [0x32],
  KeyN: [0x31], KeyM: [0x3a], Comma: [0x41], Period: [0x49], Slash: [0x4a], ShiftRight: [0x59],
  ControlLeft: [0x14], MetaLeft: [E0, 0x1f], AltLeft: [0x11], Space: [0x29], AltRight: [E0, 0x11],
  MetaRight: [E0, 0x27], ContextMenu: [E0, 0x2f], ControlRight: [E0, 0x14],
  Insert: [E0, 0x70], Home: [E0, 0x6c], PageUp: [E0, 0x7d], Delete: [E0, 0x71], End: [E0, 0x69], PageDown: [E0, 0x7a],
  ArrowUp: [E0, 0x75], ArrowLeft: [E0, 0x6b], ArrowDown: [E0, 0x72], ArrowRight: [E0, 0x74],
  NumLock: [0x77], NumpadDivide: [E0, 0x4a], NumpadMultiply: [0x7c], NumpadSubtract: [0x7b], NumpadAdd: [0x79],
  Numpad7: [0x6c], Numpad8: [0x75], Numpad9: [0x7d], Numpad4: [0x6b], Numpad5: [0x73], Numpad6: [0x74],
  Numpad1: [0x69], Numpad2: [0x72], Numpad3: [0x7a], Numpad0: [0x70], NumpadDecimal: [0x71], NumpadEnter: [E0, 0x5a],
  ScrollLock: [0x7e],
};

/** The set 2 make code of the key at `code` (a KeyboardEvent.code), or null for keys this table lacks. */
export function set2MakeCode(code: string): readonly number[] | null {
  return Object.prototype.hasOwnProperty.call(SET2, code) ? SET2[code]! : null;
}
