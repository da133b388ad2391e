// Reading a command's output from a guest's serial console, which the kernel prints on too.
//
// The kernel writes its messages straight to the console, between (or in the middle of) the
// bytes the shell prints: e.g. "clocksource: Switched to clocksource tsc" comes a second or so
// after boot, when the TSC calibration is refined, and once landed inside a command's output.
// Two defences, used together:
//
//  - Markers. Each command is typed as `printf '@@%s@@\n' B7; CMD; printf '@@%s@@\n' E7`, and
//    its output is what lies between the lines `@@B7@@` and `@@E7@@`. The terminal's echo of the
//    typed line shows `@@%s@@ ... B7`, never `@@B7@@`, so only the printfs' output can match;
//    the echo, the prompt, a redrawn or wrapped command line and kernel messages before or after
//    the command are never taken for its output. Markers are the robust part: whatever the
//    console shows, a command's output is found by content, not by position.
//  - QUIET_CONSOLE, typed first as a command of its own: kernel messages from then on (all but
//    KERN_EMERG) stay off the console, so none can land between a later command's markers. Those
//    printed before it takes effect land in its own output, which is dropped: put in front of a
//    command whose output is checked (`dmesg -n 1; echo ready`), it let the clocksource message
//    into that output in CI. The boot log before it is still printed, and tests read it.

import { LEAD } from '../src/embed/shell-command.js';

/** Console log level 1: only KERN_EMERG (level 0) messages still reach the console. */
export const QUIET_CONSOLE = 'dmesg -n 1';

export const beginMarker = (id: string): string => `@@B${id}@@`;
export const endMarker = (id: string): string => `@@E${id}@@`;

/**
 * `command` between the printfs of its markers (`id`: letters and digits, unique per session),
 * after run()'s blanks (LEAD): typed into a page's terminal right behind its answer to busybox's
 * cursor query, the first bytes can be swallowed (src/embed/shell-command.ts says how), and then
 * only blanks are.
 */
export function marked(command: string, id: string): string {
  if (!/^\w+$/.test(id)) throw new Error(`marker id must be letters and digits: ${JSON.stringify(id)}`);
  return `${LEAD}printf '@@%s@@\\n' B${id}; ${command}; printf '@@%s@@\\n' E${id}`;
}

/**
 * The output of `marked(…, id)` in console text (searched from `from`, where the command was
 * typed): the lines between its begin and end markers, CRs removed. Undefined while the end
 * marker has not appeared yet. Throws when the end marker came without its begin marker line.
 */
export function markedOutput(text: string, id: string, from = 0): string | undefined {
  const end = text.indexOf(endMarker(id), from);
  if (end < 0) return undefined;
  const begin = text.lastIndexOf(beginMarker(id), end);
  const lineEnd = begin < from ? -1 : text.indexOf('\n', begin);
  if (lineEnd < 0 || lineEnd > end) {
    throw new Error(`output of command ${id}: ${endMarker(id)} without a ${beginMarker(id)} line before it in ` +
      JSON.stringify(text.slice(from, end + 20)));
  }
  return text.slice(lineEnd + 1, end).replace(/\r/g, '');
}
