// An ATAPI DVD/CD-ROM drive on a SATA port, as the AHCI controller (ahci.ts) presents it: the ATA
// side of a packet device (ATA8-ACS: its signature, IDENTIFY PACKET DEVICE, the PACKET command
// and the few other ATA commands a packet device takes) and the SCSI commands its packets carry
// (SPC-4, MMC-6), answered from a read-only medium of 2048-byte blocks. As with ata.ts, this
// file says what a command means and what it answers; the controller moves the data and reads
// the medium.
//
// A command that cannot be done ends in CHECK CONDITION: its sense data (key, ASC, ASCQ) stays
// in the drive's state for the REQUEST SENSE the host sends next (a packet device has no
// autosense), and the sense key goes to the ATA Error register (ATA8-ACS, PACKET command, error
// outputs: Sense Key in bits 7:4). Every field the guest gives is checked here; nothing it sends
// throws.

import { type AtaTaskfile, identifyBytes, putString } from './ata.js';

/** The medium's block: a CD's (or DVD's) user data sector. */
export const CD_BLOCK = 2048;
/**
 * The packet device's signature (ATA8-ACS, the PACKET feature set's signature), in PxSIG's layout
 * (AHCI 1.3.1 3.3.9: LBA high, LBA mid, LBA low, count): 0xEB14 in LBA high and mid says "packet
 * device".
 */
export const SIG_ATAPI = 0xeb140101;
/** The Interrupt Reason (Count register) ending a PACKET command: I/O and C/D set (ATA8-ACS, PACKET, normal outputs). */
export const PACKET_DONE_REASON = 0x03;
/** The longest read this drive does in one command: 32 MiB (longer ones end in INVALID FIELD IN CDB). */
export const MAX_TRANSFER_BLOCKS = 16384;
/** The largest medium this drive calls a CD (an 80-minute disc); a larger image is a DVD-ROM. */
const CD_MAX_BLOCKS = 80 * 60 * 75;

// ATA commands of the packet feature set (ATA8-ACS, chapter 7, by command name).
export const ATA_PACKET = 0xa0;
const ATA_IDENTIFY_PACKET_DEVICE = 0xa1;
const ATA_IDENTIFY_DEVICE = 0xec;
const ATA_READ_SECTORS = 0x20, ATA_READ_SECTORS_EXT = 0x24;
const ATA_DEVICE_RESET = 0x08;
const ATA_EXECUTE_DEVICE_DIAGNOSTIC = 0x90;
const ATA_CHECK_POWER_MODE = 0xe5;
const ATA_SET_FEATURES = 0xef, ATA_IDLE_IMMEDIATE = 0xe1, ATA_STANDBY_IMMEDIATE = 0xe0, ATA_FLUSH_CACHE = 0xe7, ATA_SLEEP = 0xe6;
/** PACKET's Features bit 0: the data moves by DMA (else PIO). */
const PACKET_FEATURE_DMA = 0x01;
/** Error register after a reset or diagnostic: "device 0 passed" (ATA8-ACS, EXECUTE DEVICE DIAGNOSTIC, diagnostic codes). */
export const DIAGNOSTIC_PASSED = 0x01;

// SCSI operation codes (SPC-4, SBC-3, MMC-6).
const TEST_UNIT_READY = 0x00;
const REQUEST_SENSE = 0x03;
const INQUIRY = 0x12;
const MODE_SENSE_6 = 0x1a;
const START_STOP_UNIT = 0x1b;
const PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1e;
const READ_CAPACITY_10 = 0x25;
const READ_10 = 0x28;
const WRITE_10 = 0x2a;
const WRITE_AND_VERIFY_10 = 0x2e;
const READ_TOC_PMA_ATIP = 0x43;
const GET_CONFIGURATION = 0x46;
const GET_EVENT_STATUS_NOTIFICATION = 0x4a;
const READ_DISC_INFORMATION = 0x51;
const READ_TRACK_INFORMATION = 0x52;
const MODE_SENSE_10 = 0x5a;
const REPORT_LUNS = 0xa0;
const READ_12 = 0xa8;
const WRITE_12 = 0xaa;
const SET_CD_SPEED = 0xbb;
const MECHANISM_STATUS = 0xbd;
/**
 * Commands a pending unit attention does not stop (SPC-4, unit attention condition: INQUIRY,
 * REPORT LUNS, REQUEST SENSE; MMC-6 adds GET CONFIGURATION and GET EVENT STATUS NOTIFICATION).
 */
const UNIT_ATTENTION_EXEMPT = [INQUIRY, REPORT_LUNS, REQUEST_SENSE, GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION];

// Sense keys (SPC-4, sense key and additional sense code definitions).
export const SENSE_NO_SENSE = 0x0;
export const SENSE_NOT_READY = 0x2;
export const SENSE_MEDIUM_ERROR = 0x3;
export const SENSE_ILLEGAL_REQUEST = 0x5;
export const SENSE_UNIT_ATTENTION = 0x6;
export const SENSE_DATA_PROTECT = 0x7;
export const SENSE_ABORTED_COMMAND = 0xb;
// Additional sense codes, ASC << 8 | ASCQ (SPC-4, ASC and ASCQ assignments).
export const ASC_UNRECOVERED_READ_ERROR = 0x1100;
export const ASC_INVALID_COMMAND_OPERATION_CODE = 0x2000;
export const ASC_LBA_OUT_OF_RANGE = 0x2100;
export const ASC_INVALID_FIELD_IN_CDB = 0x2400;
export const ASC_WRITE_PROTECTED = 0x2700;
export const ASC_MEDIUM_MAY_HAVE_CHANGED = 0x2800; // NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
export const ASC_POWER_ON_RESET = 0x2900; // POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
export const ASC_SAVING_PARAMETERS_NOT_SUPPORTED = 0x3900;
export const ASC_MEDIUM_NOT_PRESENT_TRAY_CLOSED = 0x3a01;
export const ASC_MEDIUM_NOT_PRESENT_TRAY_OPEN = 0x3a02;
export const ASC_DATA_PHASE_ERROR = 0x4b00;
export const ASC_MEDIUM_REMOVAL_PREVENTED = 0x5302;

// GET EVENT STATUS NOTIFICATION (MMC-6): the media class and its events.
const EVENT_CLASS_MEDIA = 4;
const EVENT_NO_CHANGE = 0, EVENT_NEW_MEDIA = 2, EVENT_MEDIA_REMOVAL = 3;
// Profiles (MMC-6, profile list).
const PROFILE_CD_ROM = 0x0008, PROFILE_DVD_ROM = 0x0010;
// Mode pages (MMC-6, mode parameters): read error recovery and the capabilities page Linux's sr reads.
const PAGE_READ_ERROR_RECOVERY = 0x01;
const PAGE_CAPABILITIES = 0x2a;
const PAGE_ALL = 0x3f;
/** Loading mechanism "tray" (001b in bits 7:5), eject and lock supported: mode page 2Ah byte 6, feature 0003h byte 4. */
const MECHANISM_TRAY_EJECT_LOCK = 0x20 | 0x08 | 0x01;
/** Track descriptor's ADR (1: Q sub-channel gives the position) and CONTROL (4: data track) (MMC-6, READ TOC/PMA/ATIP track descriptors). */
const ADR_CONTROL_DATA = 0x14;
const LEAD_OUT = 0xaa;

/** What the drive remembers between commands: plain data, part of the controller's snapshot. */
export interface AtapiState {
  /** Sense data of the last command: its key and ASC << 8 | ASCQ (NO SENSE after a good one). */
  senseKey: number;
  senseCode: number;
  /** A unit attention condition not reported yet (ASC << 8 | ASCQ), or 0. */
  unitAttention: number;
  /** A media event not reported yet by GET EVENT STATUS NOTIFICATION (MMC-6, media event codes), or 0. */
  mediaEvent: number;
  /** PREVENT ALLOW MEDIUM REMOVAL's Prevent bit: the tray stays shut. */
  locked: boolean;
  /** START STOP UNIT opened the tray: the medium is out of reach until it is loaded again. */
  trayOpen: boolean;
}

/**
 * A drive just powered on. With a disc in it, it reports the disc once as a unit attention
 * (medium may have changed) and once as a new-media event, as a drive does after power-on.
 */
export function freshAtapiState(hasMedium: boolean): AtapiState {
  return {
    senseKey: SENSE_NO_SENSE, senseCode: 0, locked: false, trayOpen: false,
    unitAttention: hasMedium ? ASC_MEDIUM_MAY_HAVE_CHANGED : ASC_POWER_ON_RESET,
    mediaEvent: hasMedium ? EVENT_NEW_MEDIA : EVENT_NO_CHANGE,
  };
}

/** A hardware reset (COMRESET): the lock goes, and a reset is reported unless something already waits. */
export function resetAtapi(s: AtapiState): void {
  s.locked = false;
  if (s.unitAttention === 0) s.unitAttention = ASC_POWER_ON_RESET;
}

/** The ATA Error register after CHECK CONDITION: the sense key in bits 7:4 (ATA8-ACS, PACKET command, error outputs). */
export function packetError(s: AtapiState): number {
  return (s.senseKey & 0xf) << 4;
}

/** The medium could not be read (the backend failed): MEDIUM ERROR, UNRECOVERED READ ERROR. */
export function mediumError(s: AtapiState): void {
  s.senseKey = SENSE_MEDIUM_ERROR;
  s.senseCode = ASC_UNRECOVERED_READ_ERROR;
}

/** More data than the host's buffers hold (AHCI overflow): ABORTED COMMAND, DATA PHASE ERROR. */
export function overflowError(s: AtapiState): void {
  s.senseKey = SENSE_ABORTED_COMMAND;
  s.senseCode = ASC_DATA_PHASE_ERROR;
}

/** What an ATA command does to a packet device. */
export type PacketAtaAction =
  | { kind: 'packet'; dma: boolean }
  | { kind: 'identify' }
  /** Return the signature in the registers: as a reset does, or aborting a command meant for disks. */
  | { kind: 'signature'; abort: boolean }
  /** Done without data; `count` is what the Count register returns. */
  | { kind: 'nodata'; count: number }
  | { kind: 'abort' };

/** Decode an ATA command for the packet device (ATA8-ACS, the PACKET feature set and each command's description). */
export function decodePacketAta(tf: AtaTaskfile): PacketAtaAction {
  switch (tf.command) {
    case ATA_PACKET: return { kind: 'packet', dma: (tf.features & PACKET_FEATURE_DMA) !== 0 };
    case ATA_IDENTIFY_PACKET_DEVICE: return { kind: 'identify' };
    // A packet device aborts these and puts its signature in the registers (ATA8-ACS,
    // IDENTIFY DEVICE and READ SECTOR(S)), which is how hosts tell it from a disk.
    case ATA_IDENTIFY_DEVICE: case ATA_READ_SECTORS: case ATA_READ_SECTORS_EXT: return { kind: 'signature', abort: true };
    case ATA_DEVICE_RESET: case ATA_EXECUTE_DEVICE_DIAGNOSTIC: return { kind: 'signature', abort: false };
    case ATA_CHECK_POWER_MODE: return { kind: 'nodata', count: 0xff }; // active or idle
    case ATA_SET_FEATURES: case ATA_IDLE_IMMEDIATE: case ATA_STANDBY_IMMEDIATE: case ATA_FLUSH_CACHE: case ATA_SLEEP:
      return { kind: 'nodata', count: 0 };
    default: return { kind: 'abort' };
  }
}

/** IDENTIFY PACKET DEVICE data (ATA8-ACS, IDENTIFY PACKET DEVICE data table): a removable CD-ROM class device, 12-byte packets, DMA. */
export function identifyPacketDevice(serial: string): Uint8Array {
  const w = new Uint16Array(256);
  // 15:14 = 10b ATAPI; 12:8 = 05h CD-ROM device type; 7 removable; 6:5 = 10b DRQ within 50 us
  // (no interrupt for the packet itself); 1:0 = 00b 12-byte command packets.
  w[0] = 0x8000 | (0x05 << 8) | 0x80 | 0x40;
  putString(w, 10, 10, serial);
  putString(w, 23, 4, '1.0');
  putString(w, 27, 20, 'webx86 DVD-ROM');
  w[49] = (1 << 11) | (1 << 10) | (1 << 9) | (1 << 8); // IORDY, IORDY may be disabled, LBA, DMA
  w[53] = (1 << 2) | (1 << 1); // words 88 and 64-70 valid
  w[63] = 0x0007; // multiword DMA 0-2
  w[64] = 0x0003; // PIO 3-4
  w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120;
  w[71] = 30; w[72] = 30; // typical release times (ns); no overlap or queuing
  w[76] = 1 << 1; // SATA Gen1
  w[80] = 0x01f0; // ATA/ATAPI-4 to ATA8-ACS
  w[82] = (1 << 14) | (1 << 9) | (1 << 4); // NOP, DEVICE RESET, PACKET feature set
  w[83] = 1 << 14;
  w[84] = 1 << 14;
  w[85] = w[82];
  w[86] = 0;
  w[87] = 1 << 14;
  w[88] = 0x007f | (1 << 14); // UDMA 0-6, mode 6 selected
  return identifyBytes(w);
}

/** What a packet command does, for the controller. */
export type PacketAction =
  /** Data to the host (already cut to the CDB's allocation length). */
  | { kind: 'data'; data: Uint8Array }
  /** Read `blocks` medium blocks from `lba` (checked against the medium) to the host. */
  | { kind: 'read'; lba: number; blocks: number }
  /** GOOD status, nothing to move. */
  | { kind: 'none' }
  /** CHECK CONDITION: the sense data is in the state. */
  | { kind: 'check' };

const NONE: PacketAction = { kind: 'none' };
const CHECK: PacketAction = { kind: 'check' };

const be16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const be32 = (b: Uint8Array, at: number): number => b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
function putBe16(b: Uint8Array, at: number, v: number): void { b[at] = (v >>> 8) & 0xff; b[at + 1] = v & 0xff; }
function putBe32(b: Uint8Array, at: number, v: number): void { putBe16(b, at, v >>> 16); putBe16(b, at + 2, v & 0xffff); }

/** An address in a TOC: an LBA, or with MSF minute, second and frame 150 frames (2 s) later (MMC-6, READ TOC/PMA/ATIP, the TIME bit). */
function tocAddress(lba: number, msf: boolean): number[] {
  if (!msf) return [(lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff];
  const f = lba + 150;
  return [0, Math.min(0xff, Math.floor(f / (60 * 75))), Math.floor(f / 75) % 60, f % 75];
}

/**
 * Carry out the SCSI command in `cdb` (12 bytes) on a drive whose medium has `blocks` blocks of
 * 2048 bytes (null: no disc). The state's sense data says how it ended.
 */
export function packetCommand(s: AtapiState, cdb: Uint8Array, blocks: number | null): PacketAction {
  const op = cdb[0]!;
  const check = (key: number, code: number): PacketAction => { s.senseKey = key; s.senseCode = code; return CHECK; };
  const good = (a: PacketAction): PacketAction => { s.senseKey = SENSE_NO_SENSE; s.senseCode = 0; return a; };
  /** Data in, cut to the allocation length (SPC-4, allocation length: a shorter length is not an error; zero moves nothing). */
  const reply = (data: Uint8Array | number[], allocation: number): PacketAction => {
    const bytes = data instanceof Uint8Array ? data : Uint8Array.from(data);
    return good(allocation === 0 ? NONE : { kind: 'data', data: bytes.subarray(0, Math.min(bytes.length, allocation)) });
  };
  const invalidField = () => check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);

  // A unit attention ends the first command that is not exempt from it, and is then reported (SPC-4, unit attention condition).
  if (s.unitAttention !== 0 && !UNIT_ATTENTION_EXEMPT.includes(op)) {
    const code = s.unitAttention;
    s.unitAttention = 0;
    return check(SENSE_UNIT_ATTENTION, code);
  }
  const medium = blocks !== null && blocks > 0 && !s.trayOpen ? blocks : 0;
  const notReady = () => check(SENSE_NOT_READY, s.trayOpen ? ASC_MEDIUM_NOT_PRESENT_TRAY_OPEN : ASC_MEDIUM_NOT_PRESENT_TRAY_CLOSED);
  const dvd = medium > CD_MAX_BLOCKS;

  switch (op) {
    case TEST_UNIT_READY: return medium ? good(NONE) : notReady();

    case REQUEST_SENSE: {
      // Fixed-format sense data (SPC-4, fixed format sense data); descriptor format (DESC) is not supported.
      if (cdb[1]! & 0x01) return invalidField();
      let key = s.senseKey, code = s.senseCode;
      if (key === SENSE_NO_SENSE && s.unitAttention !== 0) { key = SENSE_UNIT_ATTENTION; code = s.unitAttention; s.unitAttention = 0; }
      else if (key === SENSE_NO_SENSE && !medium) { key = SENSE_NOT_READY; code = s.trayOpen ? ASC_MEDIUM_NOT_PRESENT_TRAY_OPEN : ASC_MEDIUM_NOT_PRESENT_TRAY_CLOSED; }
      const d = new Uint8Array(18);
      d[0] = 0x70; // current error, fixed format, no INFORMATION field
      d[2] = key;
      d[7] = 10; // additional sense length
      d[12] = code >>> 8; d[13] = code & 0xff;
      return reply(d, cdb[4]!); // the sense is reported: it is cleared (good() below)
    }

    case INQUIRY: {
      const allocation = be16(cdb, 3);
      if (cdb[1]! & 0x01) {
        // Vital product data: only the list of pages (SPC-4, Supported VPD Pages page).
        if (cdb[2] !== 0x00) return invalidField();
        return reply([0x05, 0x00, 0x00, 1, 0x00], allocation);
      }
      if (cdb[2] !== 0) return invalidField(); // a page code without EVPD
      const d = new Uint8Array(36);
      d[0] = 0x05; // peripheral device type: CD/DVD (MMC)
      d[1] = 0x80; // removable medium
      d[2] = 0x05; // SPC-3
      d[3] = 0x02; // response data format 2
      d[4] = d.length - 5;
      const text = 'webx86  ' + 'DVD-ROM'.padEnd(16) + '1.0 ';
      for (let i = 0; i < text.length; i++) d[8 + i] = text.charCodeAt(i); // vendor, product, revision
      return reply(d, allocation);
    }

    case MODE_SENSE_6: case MODE_SENSE_10: {
      const ten = op === MODE_SENSE_10;
      const control = cdb[2]! >> 6, page = cdb[2]! & 0x3f, subpage = cdb[3]!;
      if (control === 3) return check(SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
      if (subpage !== 0 && !(page === PAGE_ALL && subpage === 0xff)) return invalidField();
      const pages = page === PAGE_ALL ? [PAGE_READ_ERROR_RECOVERY, PAGE_CAPABILITIES] : [page];
      const body: number[] = [];
      for (const p of pages) {
        const bytes = modePage(p, control === 1, s);
        if (bytes === null) return invalidField();
        body.push(...bytes);
      }
      // Mode parameter header (SPC-4) without block descriptors: MMC devices return none.
      const header = ten ? [0, 0, 0, 0, 0, 0, 0, 0] : [0, 0, 0, 0];
      const all = Uint8Array.from([...header, ...body]);
      if (ten) putBe16(all, 0, all.length - 2); else all[0] = all.length - 1;
      return reply(all, ten ? be16(cdb, 7) : cdb[4]!);
    }

    case START_STOP_UNIT: {
      // Power conditions (bits 7:4) change nothing here; LoEj with Start loads, without it ejects.
      const loadEject = (cdb[4]! & 0x02) !== 0, start = (cdb[4]! & 0x01) !== 0;
      if ((cdb[4]! >> 4) !== 0 || !loadEject) return good(NONE);
      if (!start) {
        if (s.locked) return check(SENSE_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED);
        if (!s.trayOpen && blocks !== null) s.mediaEvent = EVENT_MEDIA_REMOVAL;
        s.trayOpen = true;
      } else if (s.trayOpen) {
        s.trayOpen = false;
        if (blocks !== null) { s.mediaEvent = EVENT_NEW_MEDIA; s.unitAttention = ASC_MEDIUM_MAY_HAVE_CHANGED; }
      }
      return good(NONE);
    }

    case PREVENT_ALLOW_MEDIUM_REMOVAL:
      s.locked = (cdb[4]! & 0x01) !== 0;
      return good(NONE);

    case READ_CAPACITY_10: {
      if (!medium) return notReady();
      const d = new Uint8Array(8);
      putBe32(d, 0, medium - 1); // the last block's address
      putBe32(d, 4, CD_BLOCK);
      return reply(d, d.length);
    }

    case READ_10: case READ_12: {
      if (!medium) return notReady();
      const lba = be32(cdb, 2);
      const count = op === READ_10 ? be16(cdb, 7) : be32(cdb, 6);
      if (lba + count > medium) return check(SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
      if (count > MAX_TRANSFER_BLOCKS) return invalidField();
      return good(count === 0 ? NONE : { kind: 'read', lba, blocks: count });
    }

    case WRITE_10: case WRITE_12: case WRITE_AND_VERIFY_10:
      return check(SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);

    case READ_TOC_PMA_ATIP: {
      if (!medium) return notReady();
      const msf = (cdb[1]! & 0x02) !== 0;
      // The format, or in its place the older one in the control byte's bits 7:6 (SFF-8020i),
      // which Linux's sr uses to ask for the session information.
      const format = (cdb[2]! & 0x0f) || (cdb[9]! >> 6);
      const track = cdb[6]!;
      const allocation = be16(cdb, 7);
      const descriptor = (number: number, lba: number) => [0, ADR_CONTROL_DATA, number, 0, ...tocAddress(lba, msf)];
      let d: number[];
      if (format === 0) {
        // TOC (MMC-6, READ TOC/PMA/ATIP format 0000b): one data track from block 0, then the lead-out at the end.
        if (track > 1 && track !== LEAD_OUT) return invalidField();
        d = [0, 0, 1, 1, ...(track <= 1 ? descriptor(1, 0) : []), ...descriptor(LEAD_OUT, medium)];
      } else if (format === 1) {
        // Session information (format 0001b): one complete session whose first track is track 1.
        d = [0, 0, 1, 1, ...descriptor(1, 0)];
      } else {
        return invalidField();
      }
      const bytes = Uint8Array.from(d);
      putBe16(bytes, 0, bytes.length - 2);
      return reply(bytes, allocation);
    }

    case GET_CONFIGURATION: {
      // MMC-6 GET CONFIGURATION: RT 0 all features from the starting one, 1 the current ones, 2 that one only.
      const rt = cdb[1]! & 0x03, first = be16(cdb, 2);
      if (rt === 3) return invalidField();
      const features = configuration(medium, dvd).filter((f) => (rt === 2 ? f.code === first : f.code >= first && (rt === 0 || f.current)));
      const body = features.flatMap((f) => f.bytes);
      const d = new Uint8Array(8 + body.length);
      putBe32(d, 0, d.length - 4);
      putBe16(d, 6, medium ? (dvd ? PROFILE_DVD_ROM : PROFILE_CD_ROM) : 0); // the current profile
      d.set(body, 8);
      return reply(d, be16(cdb, 7));
    }

    case GET_EVENT_STATUS_NOTIFICATION: {
      // Only polling (MMC-6 GET EVENT STATUS NOTIFICATION: Polled = 0 asks for asynchronous operation, which this drive lacks).
      if (!(cdb[1]! & 0x01)) return invalidField();
      const allocation = be16(cdb, 7);
      if (!(cdb[4]! & (1 << EVENT_CLASS_MEDIA))) {
        return reply([0, 2, 0x80, 1 << EVENT_CLASS_MEDIA], allocation); // NEA: no event of the classes asked for
      }
      const event = s.mediaEvent;
      s.mediaEvent = EVENT_NO_CHANGE;
      const status = (medium ? 0x02 : 0) | (s.trayOpen ? 0x01 : 0); // media present, tray open
      return reply([0, 6, EVENT_CLASS_MEDIA, 1 << EVENT_CLASS_MEDIA, event, status, 0, 0], allocation);
    }

    case READ_DISC_INFORMATION: {
      if (!medium) return notReady();
      if ((cdb[1]! & 0x07) !== 0) return invalidField(); // only the standard disc information
      // MMC-6 READ DISC INFORMATION, standard disc information: a finalized disc with one complete session of one track.
      const d = new Uint8Array(34);
      putBe16(d, 0, d.length - 2);
      d[2] = 0x0e; // last session complete (11b), disc complete (10b)
      d[3] = 1; // first track on the disc
      d[4] = 1; // sessions
      d[5] = 1; // first track in the last session
      d[6] = 1; // last track in the last session
      d[7] = 0x20; // unrestricted use
      d.fill(0xff, 16, 24); // no lead-in start or last possible lead-out: the disc is complete
      return reply(d, be16(cdb, 7));
    }

    case READ_TRACK_INFORMATION: {
      if (!medium) return notReady();
      // MMC-6 READ TRACK INFORMATION: the track is named by an LBA in it (type 0), its number (1) or its session (2).
      const type = cdb[1]! & 0x03, number = be32(cdb, 2);
      if (type === 0 ? number >= medium : type === 3 || number !== 1) return invalidField();
      const d = new Uint8Array(48);
      putBe16(d, 0, d.length - 2);
      d[2] = 1; // track 1
      d[3] = 1; // in session 1
      d[5] = 0x04; // track mode: data, recorded uninterrupted
      d[6] = 0x01; // data mode 1; not blank, not packet written; no next writable address
      putBe32(d, 24, medium); // track size (it starts at block 0)
      return reply(d, be16(cdb, 7));
    }

    case MECHANISM_STATUS: {
      // MMC-6 MECHANISM STATUS: no changer, the mechanism idle, no slot tables.
      const d = new Uint8Array(8);
      d[1] = s.trayOpen ? 0x10 : 0;
      return reply(d, be16(cdb, 8));
    }

    case SET_CD_SPEED: return good(NONE); // any speed will do

    default: return check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPERATION_CODE);
  }
}

/** A mode page (MMC-6, mode parameters): its current (and default) values, or with `changeable` the mask of what MODE SELECT may change (nothing). */
function modePage(page: number, changeable: boolean, s: AtapiState): number[] | null {
  let d: number[];
  switch (page) {
    case PAGE_READ_ERROR_RECOVERY: // MMC-6 Read/Write Error Recovery page: default recovery, a few retries
      d = [PAGE_READ_ERROR_RECOVERY, 0x0a, 0x00, 5, 0, 0, 0, 0, 5, 0, 0, 0];
      break;
    case PAGE_CAPABILITIES: {
      // MMC-3's "CD/DVD Capabilities and Mechanical Status" page (obsolete in MMC-6 but still
      // what Linux's sr reads): reads CD-R/RW and DVD-ROM/R/RAM, writes nothing, multisession,
      // tray with lock and eject, 24x (4224 kB/s), 512 KiB buffer.
      const kbps = 24 * 176;
      d = [PAGE_CAPABILITIES, 0x14,
        0x3b, 0x00, 0x40, 0x00, MECHANISM_TRAY_EJECT_LOCK | (s.locked ? 0x02 : 0), 0x00,
        kbps >> 8, kbps & 0xff, 0, 0, 0x02, 0x00, kbps >> 8, kbps & 0xff,
        0, 0, 0, 0, 0, 0];
      break;
    }
    default: return null;
  }
  return changeable ? d.map((v, i) => (i < 2 ? v : 0)) : d;
}

/** The features of GET CONFIGURATION (MMC-6, feature definitions), in order of feature code. */
function configuration(medium: number, dvd: boolean): { code: number; current: boolean; bytes: number[] }[] {
  const feature = (code: number, version: number, persistent: boolean, current: boolean, data: number[]) => ({
    code, current,
    bytes: [code >> 8, code & 0xff, (version << 2) | (persistent ? 0x02 : 0) | (current ? 0x01 : 0), data.length, ...data],
  });
  const disc = medium > 0;
  return [
    // Profile list: DVD-ROM and CD-ROM, the disc's one current.
    feature(0x0000, 0, true, true, [0x00, PROFILE_DVD_ROM, disc && dvd ? 1 : 0, 0, 0x00, PROFILE_CD_ROM, disc && !dvd ? 1 : 0, 0]),
    feature(0x0001, 2, true, true, [0, 0, 0, 7, 0, 0, 0, 0]), // Core: Serial ATAPI
    feature(0x0002, 1, true, true, [0x02, 0, 0, 0]), // Morphing: operational change events (by polling)
    feature(0x0003, 0, true, true, [MECHANISM_TRAY_EJECT_LOCK, 0, 0, 0]), // Removable medium
    feature(0x0010, 0, false, disc, [0, 0, CD_BLOCK >> 8, 0, 0, dvd ? 16 : 1, 0, 0]), // Random readable: block size, blocking
    feature(0x001e, 2, false, disc && !dvd, [0, 0, 0, 0]), // CD read
    feature(0x001f, 0, false, disc && dvd, [0, 0, 0, 0]), // DVD read
  ];
}
