// run(command) on a guest's serial console, which the kernel prints on too.
//
// The command is typed between two printfs, each of which prints a marker, and its output is
// what lies between the two markers. A marker is an OSC escape sequence (ESC ] 7001 ; name BEL)
// that terminals ignore, so the console in the element shows the command's output and not the
// markers. The shell's echo of the typed line shows the printf's format and argument apart
// (`'\033]7001;%s\007' x86vm-3-begin`: a backslash, not an ESC), never the marker itself, so
// neither the echo, the prompt, a redrawn command line nor a kernel message printed before or
// after the command is taken for its output. (A kernel message printed while the command runs
// would land inside; `dmesg -n 1` keeps them off the console.)
//
// The line starts with blanks, which a shell skips. Busybox's line editor asks the terminal where
// its cursor is (ESC [ 6 n) after each prompt, and its key reader (libbb/read_key.c) does not
// recognise every answer: the one for row 1 and column 3 or 5, which a prompt on a cleared
// screen gets, begins like a key's sequence (ESC [ 1 ; 5 C is Ctrl-Right), and the reader then
// swallows up to 10 more bytes before it gives up on the whole sequence. A person types long
// after the answer; run() types at once, and lost the start of its line to it. Those bytes are
// now blanks.

/** An operating system command number no terminal gives a meaning to. */
const MARKER_OSC = '7001';

/** More blanks than busybox's key reader can swallow after a terminal's answer (see above). */
export const LEAD = ' '.repeat(16);

/**
 * An empty command line, typed into a machine that arrives (restored or migrated) with its
 * prompt printed before it left: the shell prints a fresh one. Blanks first, as for run()'s lines.
 */
export const EMPTY_LINE = `${LEAD}\r`;

/** The markers of command `id`, as the guest prints them. */
export function commandMarkers(id: string): { begin: string; end: string } {
  return { begin: `\x1b]${MARKER_OSC};x86vm-${id}-begin\x07`, end: `\x1b]${MARKER_OSC};x86vm-${id}-end\x07` };
}

/** The line to type for `command` (without its Enter); `id` is letters, digits and dashes. */
export function markedCommandLine(command: string, id: string): string {
  if (!/^[\w-]+$/.test(id)) throw new Error(`marker id must be letters, digits and dashes: ${JSON.stringify(id)}`);
  if (/[\r\n]/.test(command)) throw new Error('run() takes one command line: it must not contain a line break.');
  const marker = (what: string) => `printf '\\033]${MARKER_OSC};%s\\007' x86vm-${id}-${what}`;
  return `${LEAD}${marker('begin')}; ${command}; ${marker('end')}`;
}

/**
 * The output of command `id` in console text, CRs removed and, as the shell's $(…) does, its
 * trailing newlines; null while the end marker has not come.
 */
export function commandOutput(text: string, id: string): string | null {
  const { begin, end } = commandMarkers(id);
  const endAt = text.indexOf(end);
  if (endAt < 0) return null;
  const beginAt = text.lastIndexOf(begin, endAt);
  // The end marker without the begin marker: the command line was mangled on its way in.
  if (beginAt < 0) return null;
  return text.slice(beginAt + begin.length, endAt).replace(/\r/g, '').replace(/\n+$/, '');
}
