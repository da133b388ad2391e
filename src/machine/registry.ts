// The machine's devices in one list: the Machine resets them by walking it, and saves and
// loads their state through it (for snapshots), so a device is named once, where it is wired.

/** What a registered device offers: its power-on state, and its state as plain data. */
export interface RegisteredDevice {
  /** Version of the state's format; a saved state of another version is refused. */
  readonly stateVersion: number;
  reset(): void;
  /** Everything the guest can observe of the device, as plain data (numbers, strings, arrays, typed arrays). */
  readonly state: unknown;
  /** Take a state that `state` gave (of the same version); re-arms the device's timers and lines. */
  loadState(state: never): void;
}

/** One device's saved state, by the name it is registered under and its state format's version. */
export interface SavedDevice { name: string; version: number; state: unknown }

/** A saved machine state that does not fit this machine: the message is one line. */
export class DeviceStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceStateError';
  }
}

interface Entry { name: string; device: RegisteredDevice }

export class DeviceRegistry {
  private readonly entries: Entry[] = [];

  /** Register `device` under a name unique in this machine. */
  add<T extends RegisteredDevice>(name: string, device: T): T {
    if (this.entries.some((e) => e.name === name)) throw new Error(`device ${name} is registered twice`);
    this.entries.push({ name, device });
    return device;
  }

  /** Every device to its power-on state, in the order they were registered. */
  resetAll(): void {
    for (const e of this.entries) e.device.reset();
  }

  /** A deep copy of every device's state. */
  save(): SavedDevice[] {
    return this.entries.map((e) => ({ name: e.name, version: e.device.stateVersion, state: structuredClone(e.device.state) }));
  }

  /** Does `saved` name exactly these devices with these versions? Otherwise DeviceStateError says why. */
  check(saved: readonly SavedDevice[]): void {
    const byName = new Map(saved.map((s) => [s.name, s]));
    if (byName.size !== saved.length) throw new DeviceStateError('saved state names a device twice');
    for (const e of this.entries) {
      const s = byName.get(e.name);
      if (s === undefined) throw new DeviceStateError(`saved state has no device ${e.name}`);
      if (s.version !== e.device.stateVersion) {
        throw new DeviceStateError(`saved ${e.name} state is version ${s.version}, this machine's is ${e.device.stateVersion}`);
      }
    }
    const extra = saved.find((s) => !this.entries.some((e) => e.name === s.name));
    if (extra !== undefined) throw new DeviceStateError(`saved state has device ${extra.name}, which this machine does not`);
  }

  /** Load what save() gave, in registration order, after check(): nothing is loaded if it fails. */
  load(saved: readonly SavedDevice[]): void {
    this.check(saved);
    const byName = new Map(saved.map((s) => [s.name, s]));
    for (const e of this.entries) e.device.loadState(structuredClone(byName.get(e.name)!.state) as never);
  }
}
