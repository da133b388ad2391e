// run(command) on a guest's serial console, which the kernel prints on too.
//
// The command is typed between two printf lines whose output is a marker: its output is what
// lies between the line `##x86vm-<id>-begin##` and `##x86vm-<id>-end##`. The shell's echo of
// the typed line shows the printf's format and argument apart (`'##%s##\n' x86vm-3-begin`),
// never the marker itself, so neither the echo, the prompt, a redrawn command line nor a kernel
// message printed before or after the command is taken for its output. (A kernel message printed
// while the command runs would land inside; `dmesg -n 1` keeps them off the console.)

/** The markers of command `id` (letters, digits and dashes). */
export function commandMarkers(id: string): { begin: string; end: string } {
  return { begin: `##x86vm-${id}-begin##`, end: `##x86vm-${id}-end##` };
}

/** The line to type for `command` (without its Enter). */
export function markedCommandLine(command: string, id: string): string {
  if (!/^[\w-]+$/.test(id)) throw new Error(`marker id must be letters, digits and dashes: ${JSON.stringify(id)}`);
  if (/[\r\n]/.test(command)) throw new Error('run() takes one command line: it must not contain a line break.');
  return `printf '##%s##\\n' x86vm-${id}-begin; ${command}; printf '##%s##\\n' x86vm-${id}-end`;
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
  const lineEnd = beginAt < 0 ? -1 : text.indexOf('\n', beginAt);
  // The end marker without the begin marker's line: the command line was mangled on its way in.
  if (lineEnd < 0 || lineEnd > endAt) return null;
  return text.slice(lineEnd + 1, endAt).replace(/\r/g, '').replace(/\n+$/, '');
}
