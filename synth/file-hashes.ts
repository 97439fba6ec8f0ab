/**
 * The SHA-256 of files, remembered between synths by what `stat` says of them, as Git's index
 * does: a file whose size, modification and change times, inode and device are those recorded
 * is taken to hold the content recorded, without being read.
 *
 * Why that is exact: any write to a file, a rename onto it or a `touch` sets its change time
 * (ctime) to the current time, and no tool can set ctime back. The one gap is a write within
 * the clock's granularity of the moment the file was recorded: a file whose ctime is less than
 * `RACY_MS` before the record was written is not trusted next time (Git calls it "racily
 * clean") and is read again. A record that is unreadable or altered is an empty one.
 *
 * Used by the synth cache (synth/cache.ts) for the code key and by writeDist for the files
 * already in dist/: on the edit loop's path they are most of what a synth reads.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Files changed less than this before the record was written are read again next time. */
const RACY_MS = 1000;
const FORMAT = 'meridian-file-hashes 1';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The SHA-256 (hex) of a rendered file's content: the one it carries (synth cache) or computed. */
export const contentHash = (f: { readonly content: string; readonly sha256?: string }): string => f.sha256 ?? sha(f.content);

/** What stat says of a file, or undefined when it is not a regular file. */
function signature(st: fs.Stats): string | undefined {
  return st.isFile() ? `${st.size} ${st.mtimeMs} ${st.ctimeMs} ${st.ino} ${st.dev}` : undefined;
}

export class FileHashes {
  /** absolute path → [signature, sha256] as last recorded (trusted ones only). */
  private readonly known = new Map<string, [string, string]>();
  /** What this run saw or wrote, recorded by `save`. */
  private readonly seen = new Map<string, [string, string, number]>();
  /** Whether this run read or wrote a file, or forgot one: the record is then written again. */
  private changed = false;

  /** @param file where the record is kept (absent or unreadable: nothing known) */
  constructor(private readonly file: string) {
    const body = readSealed(file);
    if (body === undefined) return;
    try {
      const { format, at, files } = JSON.parse(body) as { format: string; at: number; files: [string, string, string, number][] };
      if (format !== FORMAT || typeof at !== 'number') return;
      for (const [p, sig, hash, ctime] of files) if (ctime < at - RACY_MS) this.known.set(p, [sig, hash]);
    } catch {
      // An altered record: nothing known.
    }
  }

  /** The SHA-256 of a file's content (hex), or undefined when it is not a regular file. */
  hash(abs: string, st: fs.Stats = fs.statSync(abs)): string | undefined {
    const sig = signature(st);
    if (sig === undefined) return undefined;
    const known = this.known.get(abs);
    const trusted = known !== undefined && known[0] === sig;
    const hash = trusted ? known[1] : sha(fs.readFileSync(abs));
    if (!trusted) this.changed = true;
    this.seen.set(abs, [sig, hash, st.ctimeMs]);
    return hash;
  }

  /** Records a file this run has just written, with the SHA-256 of what it wrote. */
  wrote(abs: string, hash: string): void {
    const st = fs.statSync(abs);
    const sig = signature(st);
    if (sig !== undefined) this.seen.set(abs, [sig, hash, st.ctimeMs]);
    this.changed = true;
  }

  /** Forgets files under a folder (they were moved away or removed). */
  forget(absDir: string): void {
    const prefix = absDir + path.sep;
    for (const p of [...this.seen.keys()]) if (p === absDir || p.startsWith(prefix)) this.seen.delete(p);
    this.changed = true;
  }

  /** Writes what this run saw as the record (temporary file, then rename). Best effort. */
  save(): void {
    if (!this.changed && this.seen.size === this.known.size) return;
    const files = [...this.seen].map(([p, [sig, hash, ctime]]) => [p, sig, hash, ctime]);
    const body = Buffer.from(JSON.stringify({ format: FORMAT, at: Date.now(), files }));
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${sha(body)} ${body.length}\n`), body]));
      fs.renameSync(tmp, this.file);
    } catch {
      // A read-only checkout: the next synth reads the files again.
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
}

/** The body of `<sha256> <length>\n<body>`, or undefined when missing, cut short or altered. */
function readSealed(file: string): string | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const nl = data.indexOf(0x0a);
  if (nl < 0 || nl > 200) return undefined;
  const [digest, length] = data.subarray(0, nl).toString('latin1').split(' ');
  const body = data.subarray(nl + 1);
  return Number(length) === body.length && sha(body) === digest ? body.toString('utf8') : undefined;
}
