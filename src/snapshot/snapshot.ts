// Snapshot files: a whole Machine (its MachineState) and what it was built from (SnapshotConfig),
// compressed and checksummed. This is the API the CLI, the worker and the page use:
//
//   save:    bytes = await saveSnapshot(machine, options)            (machine stopped; options as given to Machine.create)
//   load:    snap = await decodeSnapshot(bytes)                       (every check of the file: nothing changes yet)
//            opts = await machineOptionsFor(snap.config, { kernel, initrd, links })   (the images must be the saved ones)
//            machine = await Machine.create({ ...opts, coreWasm }, host)
//            restoreSnapshot(machine, snap)                           (checks the machine fits, then loads)
//
// Every failure is a SnapshotError with a one-line message, and leaves the machine as it was.
// The layout: container.ts (header, compression, checksums), sections.ts (the payload),
// value-codec.ts (device states), ram-pages.ts (RAM without its zero pages), config.ts.
import type { Machine, MachineOptions, MachineState } from '../machine/machine.js';
import { DeviceStateError } from '../machine/registry.js';
import { SnapshotError } from './bytes.js';
import { checkMachineFits, snapshotConfig, type SnapshotConfig } from './config.js';
import { seal, unseal, type ContainerInfo } from './container.js';
import { decodePayload, diskBlocks, encodePayload } from './sections.js';
import type { RamCounts, RamEncodeOptions } from './ram-pages.js';

export { SnapshotError } from './bytes.js';
export { machineOptionsFor, snapshotConfig, type SnapshotConfig, type SnapshotHostParts, type SnapshotImages } from './config.js';
export { FORMAT_VERSION } from './container.js';
export type { RamCounts } from './ram-pages.js';

export interface EncodeOptions extends RamEncodeOptions {
  /** Told how RAM's pages were written or left out (for the host's figures). */
  onRamCounts?: (counts: RamCounts) => void;
  /** Each card's network backend's state (saveLinks in src/net/link.ts), taken with the machine stopped. */
  net?: readonly unknown[];
}

/** What a decoded file held besides the state: sizes, for the host to show. */
export interface SnapshotInfo extends ContainerInfo {
  /** RAM pages the file held; the others load as zeros. */
  pagesStored: number;
}

export interface DecodedSnapshot {
  state: MachineState;
  config: SnapshotConfig;
  info: SnapshotInfo;
  /** Each card's network backend's saved state, for restoreLinks (src/net/link.ts); absent when none had any. */
  net?: unknown[];
}

/**
 * `state` (from Machine.saveState) of a machine configured as `config`, as a snapshot file.
 * RAM is compressed from `state` itself, not a copy: leave `state` alone until this resolves.
 */
export async function encodeSnapshot(state: MachineState, config: SnapshotConfig, opts: EncodeOptions = {}): Promise<Uint8Array> {
  const { chunks, ram } = encodePayload(state, config, opts, opts.net);
  opts.onRamCounts?.(ram);
  return seal(chunks, state.ram.length, undefined, diskBlocks(state));
}

/**
 * The state and configuration in a snapshot file, after checking everything about the file
 * (magic, version, sizes, checksums, every section's layout). Fails only with SnapshotError.
 */
export async function decodeSnapshot(file: Uint8Array): Promise<DecodedSnapshot> {
  try {
    const { payload, info } = await unseal(file);
    const { state, config, pagesStored, net } = decodePayload(payload, info.ramBytes, info.diskBlocks);
    return { state, config, info: { ...info, pagesStored }, ...(net !== undefined ? { net } : {}) };
  } catch (e) {
    throw asSnapshotError(e, 'snapshot cannot be read');
  }
}

/**
 * Save `machine` (stopped: run() has returned), made with `options` (what was given to
 * Machine.create), as a snapshot file. The pages the guest has given to the balloon are left
 * out (they are the host's: they load as zeros), unless `opts.skipPage` says otherwise. The
 * disks' requests in flight are completed first (Machine.settleIo); a disk written in place
 * (not through an overlay) gives a SnapshotError.
 */
export async function saveSnapshot(machine: Machine, options: MachineOptions, opts: EncodeOptions = {}): Promise<Uint8Array> {
  let state: MachineState;
  try {
    await machine.settleIo();
    state = machine.saveState();
  } catch (e) {
    throw asSnapshotError(e, 'cannot save this machine');
  }
  const skipPage = opts.skipPage ?? ((pfn: number) => machine.balloon.isInflated(pfn));
  return encodeSnapshot(state, await snapshotConfig(options), { ...opts, skipPage });
}

/**
 * Load a decoded snapshot into `machine` (stopped; made from machineOptionsFor(snap.config)).
 * A machine it does not fit gives a SnapshotError, and nothing of it changes.
 */
export function restoreSnapshot(machine: Machine, snap: DecodedSnapshot): void {
  checkMachineFits(machine, snap.config);
  try {
    machine.loadState(snap.state);
  } catch (e) {
    // DeviceStateError: a device list or version that differs; anything else (the machine is running).
    throw asSnapshotError(e, e instanceof DeviceStateError ? 'snapshot does not fit this machine' : 'cannot restore a snapshot now');
  }
}

/**
 * Any failure as a one-line SnapshotError; those that are not already one (the Machine's
 * DeviceStateError, or a fault of this code) get `context` in front.
 */
function asSnapshotError(e: unknown, context: string): SnapshotError {
  if (e instanceof SnapshotError) return e;
  const message = String((e as Error)?.message ?? e).split('\n')[0];
  return new SnapshotError(`${context}: ${message}`);
}
