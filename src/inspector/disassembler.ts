// The instructions at CS:EIP in words, for the inspector, by iced-x86 (npm `iced-x86`: a Rust
// decoder and formatter compiled to WebAssembly, MIT, kept up to date with new instruction
// sets). The core's own decoder (asm-core/cpu/decode.ts) builds execution records and has no
// text form, and writing a formatter for the whole i686 opcode map would be a second decoder
// that could disagree with the first; iced-x86 is a well-tested outside opinion instead.
//
// It is loaded only when the inspector first asks for a disassembly (a dynamic import, its own
// chunk of about 1 MiB of JS and 0.8 MiB of Wasm), so the page's first load does not grow. The
// package is built for Node (wasm-pack's nodejs target: CommonJS that reads its .wasm with
// `fs`), so it runs here as the CommonJS module it is, with the three Node modules it asks for
// supplied: `util` (TextDecoder/TextEncoder, which workers have), `path` and `fs` (the .wasm,
// fetched from where the bundler put it).

type Iced = typeof import('iced-x86');

let loading: Promise<Iced> | null = null;

async function loadIced(): Promise<Iced> {
  const [glue, wasmUrl] = await Promise.all([
    import('iced-x86/iced_x86.js?raw').then((m) => m.default as string),
    import('iced-x86/iced_x86_bg.wasm?url').then((m) => m.default as string),
  ]);
  const response = await fetch(wasmUrl);
  if (!response.ok) throw new Error(`the disassembler's code is not on this server (${wasmUrl}: HTTP ${response.status})`);
  const wasm = new Uint8Array(await response.arrayBuffer());
  const module: { exports: Record<string, unknown> } = { exports: {} };
  const nodeModules: Record<string, unknown> = {
    util: { TextDecoder, TextEncoder },
    path: { join: (...parts: string[]) => parts.join('/') },
    fs: { readFileSync: () => wasm },
  };
  const require = (name: string): unknown => {
    const m = nodeModules[name];
    if (m === undefined) throw new Error(`iced-x86 asked for the Node module '${name}'`);
    return m;
  };
  new Function('module', 'exports', 'require', '__dirname', glue)(module, module.exports, require, '.');
  return module.exports as unknown as Iced;
}

/** One decoded instruction. */
export interface Disassembled {
  address: number;
  length: number;
  text: string;
}

/**
 * Disassemble up to `count` instructions from `bytes`, which lie at linear `address`, as code of
 * `bitness` (16 or 32). Stops at the end of the bytes; an undecodable byte shows as `(bad)`.
 */
export async function disassemble(bytes: Uint8Array, address: number, bitness: 16 | 32, count: number): Promise<Disassembled[]> {
  loading ??= loadIced();
  let iced: Iced;
  try {
    iced = await loading;
  } catch (e) {
    loading = null;
    throw e;
  }
  const decoder = new iced.Decoder(bitness, bytes, iced.DecoderOptions.None);
  const formatter = new iced.Formatter(iced.FormatterSyntax.Nasm);
  // Numbers as the rest of the inspector writes them: 0x and lower-case hex.
  formatter.hexPrefix = '0x';
  formatter.hexSuffix = '';
  formatter.uppercaseHex = false;
  formatter.spaceAfterOperandSeparator = true;
  const out: Disassembled[] = [];
  try {
    decoder.ip = BigInt(address >>> 0);
    while (out.length < count && decoder.canDecode) {
      const at = decoder.position;
      const instr = decoder.decode();
      try {
        // An instruction cut off by the end of the bytes read is not shown half.
        if (instr.isInvalid && at + instr.length >= bytes.length) break;
        out.push({ address: (address + at) >>> 0, length: instr.length, text: instr.isInvalid ? '(bad)' : formatter.format(instr) });
      } finally {
        instr.free();
      }
    }
  } finally {
    decoder.free();
    formatter.free();
  }
  return out;
}
