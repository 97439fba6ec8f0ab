/**
 * The synth cache: what `npx cdk8s synth` rendered for each platform × environment, kept in
 * `.meridian/synth-cache/` (ignored by Git) so that after an edit only the environments the
 * edit can affect are rendered and validated again.
 *
 * What an environment's output depends on, and so what its key hashes:
 * - the code: every file of the repository the app can load or read (the TypeScript sources,
 *   `imports/` with the pinned CRDs' schemas, the scripts and health checks rendered into
 *   ConfigMaps), `package.json`, `package-lock.json`, npm's record of what is installed
 *   (`node_modules/.package-lock.json`), `tsconfig.json`, `cdk8s.yaml` and the node version. That is
 *   every file under the repository except those listed in `NOT_CODE` (outputs, specs, tests,
 *   docs, the bench). After a run that loaded the app, `uncoveredModules` checks that every
 *   module it loaded is in that set; if one is not, nothing is stored.
 * - the platform: its file, the shared helpers beside it (`platforms/_*`), and the names of its
 *   overlay files (an overlay for an unknown environment fails the whole platform);
 * - the environment: its name and its overlay's content (or that it has none).
 *
 * Nothing else goes in: the merge and the plan read only the platform and that one overlay
 * (`model/load.ts`), rendering reads only the environment's plan (`buildEnvironment`), and the
 * checks on rendered objects look within an environment (per object, per cluster folder, the
 * DestinationRule subsets and flows across the environment's regions). The one check that
 * spans environments, two of them placing one object in the same cluster, runs on every synth
 * over all environments from the keys each entry keeps (`synth/placement.ts`).
 *
 * An entry is written to a temporary file and renamed, and starts with the SHA-256 and length
 * of its body: an entry that is partial, corrupt, of another format, or stored under another
 * key is ignored and the environment rendered again. This module loads no cdk8s, so a synth
 * with nothing to render (all entries hit) does not load the app at all.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contentHash, FileHashes } from './file-hashes';

/** Bumped whenever what an entry holds, or how keys are made, changes. */
const FORMAT = 'meridian-synth-cache 2';

/** Top-level entries of the repository that are not code: inputs, outputs, tests, docs, tool state. */
const NOT_CODE = new Set(['dist', 'overlays', 'platforms', 'test', 'docs', 'scripts', 'node_modules', 'coverage', 'README.md', 'LICENSE']);
/** The records of synth/file-hashes.ts kept beside the entries: the code's files, dist/'s files. */
const CODE_FILES = 'code-files';
const DIST_FILES = 'dist-files';
/** Files inside `node_modules/` that stand for all of it: npm rewrites it whenever it installs. */
const INSTALLED = ['node_modules/.package-lock.json'];

/** A rendered file as the cache keeps it. */
export interface CachedFile {
  readonly path: string;
  /** Decoded from the entry when first asked for: a synth that finds dist/ up to date never needs it. */
  readonly content: string;
  /** The SHA-256 (hex) of the content, kept in the entry. */
  readonly sha256?: string;
}

/** What one environment rendered: its files, documents, and what it placed in which cluster. */
export interface EnvironmentOutput {
  /** `<platform>/<env>` */
  readonly scope: string;
  /** Object files, each with its path relative to dist/. */
  readonly files: readonly CachedFile[];
  /** Files that are not objects (the platform's ARCHITECTURE.md, a preview's kustomization). */
  readonly documents: readonly CachedFile[];
  /** `placementKey`s of the objects of its region clusters, in render order. */
  readonly placement: readonly string[];
}

/** The index: the platforms of the last synth and their environments, in synth order. */
interface Index {
  format: string;
  platforms: Record<string, { key: string; envs: string[] }>;
}

/** One platform file as this synth sees it. */
export interface PlatformState {
  /** `platforms/<name>.ts` */
  readonly file: string;
  readonly name: string;
  readonly key: string;
  /** Known when the platform is unchanged since the last synth: its environments, in order. */
  readonly envs?: readonly string[];
}

/** What the cache can give this synth. */
export interface Lookup {
  readonly platforms: readonly PlatformState[];
  /** Environments whose entries hit, by scope. */
  readonly hits: ReadonlyMap<string, EnvironmentOutput>;
  /** Every environment of every platform hit: nothing needs rendering. */
  readonly complete: boolean;
}

/**
 * Whether `npx cdk8s synth` may use the cache: not in CI (`CI` set to anything but `false` or
 * `0`), not with `MERIDIAN_SYNTH_CACHE=off`. Those render everything and leave the cache alone.
 */
export function cacheWanted(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  return !ci && env.MERIDIAN_SYNTH_CACHE !== 'off';
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

export class SynthCache {
  readonly dir: string;
  private code?: { key: string; files: Set<string> };
  private lookupResult?: Lookup;
  /** Environment keys used by this synth, by scope. */
  private readonly envKeys = new Map<string, string>();

  /** Where the code the key hashes lives. */
  readonly codeRoot: string;

  /**
   * @param root the repository root: `platforms/`, `overlays/`, and the cache under `.meridian/`
   * @param opts.codeRoot where the app's code is (`root` itself for `npx cdk8s synth`; tests render fixture repositories with this one's code)
   * @param opts.loadedModules the modules the app loaded (`Object.keys(require.cache)` in main.ts), checked by `uncoveredModules` before storing
   */
  constructor(
    readonly root: string,
    private readonly opts: { dir?: string; codeRoot?: string; loadedModules?: () => readonly string[] } = {},
  ) {
    this.dir = opts.dir ?? path.join(root, '.meridian', 'synth-cache');
    this.codeRoot = opts.codeRoot ?? root;
  }

  /** The hash of every code file (see the file comment), and the files it covers (absolute paths). */
  codeState(): { key: string; files: Set<string> } {
    if (this.code) return this.code;
    const files: string[] = [];
    for (const entry of fs.readdirSync(this.codeRoot, { withFileTypes: true })) {
      if (NOT_CODE.has(entry.name) || entry.name.startsWith('.')) continue;
      const abs = path.join(this.codeRoot, entry.name);
      if (entry.isDirectory()) files.push(...walk(abs));
      else if (entry.isFile()) files.push(abs);
    }
    for (const rel of INSTALLED) if (fs.existsSync(path.join(this.codeRoot, rel))) files.push(path.join(this.codeRoot, rel));
    files.sort();
    const hash = createHash('sha256').update(`${FORMAT}\n${process.version}\n`);
    // A file untouched since the last synth (by stat) is not read again: synth/file-hashes.ts.
    const known = new FileHashes(path.join(this.dir, CODE_FILES));
    for (const f of files) hash.update(`${path.relative(this.codeRoot, f)}\u0000${known.hash(f) ?? sha(fs.readFileSync(f))}\n`);
    known.save();
    this.code = { key: hash.digest('hex'), files: new Set(files) };
    return this.code;
  }

  /**
   * Modules loaded by this process from the repository that the code key does not cover
   * (outside node_modules, outside the platform files and their helpers): entries keyed
   * without them could go stale, so `store` is refused when there are any.
   */
  uncoveredModules(loaded: readonly string[] = this.opts.loadedModules?.() ?? []): string[] {
    const { files } = this.codeState();
    const platforms = path.join(this.root, 'platforms') + path.sep;
    const within = (dir: string) => (m: string) => m.startsWith(dir + path.sep) && !m.startsWith(path.join(dir, 'node_modules') + path.sep);
    const inRepository = (m: string) => within(this.codeRoot)(m) || within(this.root)(m);
    const isPlatformFile = (m: string) => m.startsWith(platforms) && !m.slice(platforms.length).includes(path.sep);
    const isHelper = (m: string) => isPlatformFile(m) && path.basename(m).startsWith('_');
    const uncovered = loaded.filter((m) => inRepository(m) && !isPlatformFile(m) && !files.has(m));
    // A platform's key holds its own file and the helpers, not another platform's file.
    for (const m of loaded.filter(isPlatformFile)) {
      const children = (require.cache[m]?.children ?? []).map((c) => c.filename);
      uncovered.push(...children.filter((c) => isPlatformFile(c) && !isHelper(c)).map((c) => `${c} (loaded by ${m})`));
    }
    return uncovered;
  }

  /** Which environments can be taken from the cache. Never throws: an unreadable cache is an empty one. */
  lookup(): Lookup {
    if (this.lookupResult) return this.lookupResult;
    const code = this.codeState().key;
    const index = this.readIndex();
    const dir = path.join(this.root, 'platforms');
    const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
    const helpers = names.filter((f) => f.startsWith('_')).map((f) => `${f}\u0000${sha(fs.readFileSync(path.join(dir, f)))}`);
    const platforms: PlatformState[] = [];
    const hits = new Map<string, EnvironmentOutput>();
    let complete = true;
    // The same files, in the same order, as model/index.ts `platformFiles`.
    for (const f of names.filter((n) => n.endsWith('.ts') && !n.startsWith('_') && !n.endsWith('.d.ts'))) {
      const name = f.slice(0, -3);
      const file = path.join('platforms', f);
      const overlays = this.overlayFiles(name);
      const key = sha(
        [
          FORMAT,
          code,
          file,
          sha(fs.readFileSync(path.join(this.root, file))),
          ...helpers,
          ...overlays.map((o) => `overlay\u0000${o.slice(0, o.indexOf('\u0000'))}`),
        ].join('\n'),
      );
      const known = index?.platforms[file];
      const envs = known?.key === key ? known.envs : undefined;
      platforms.push({ file, name, key, envs });
      if (!envs) {
        complete = false;
        continue;
      }
      for (const env of envs) {
        const scope = `${name}/${env}`;
        const envKey = this.environmentKey(key, name, env, overlays);
        this.envKeys.set(scope, envKey);
        const hit = this.readEntry(envKey, scope);
        if (hit) hits.set(scope, hit);
        else complete = false;
      }
    }
    this.lookupResult = { platforms, hits, complete };
    return this.lookupResult;
  }

  /**
   * The key of an object file's text under this code: an object whose key is in `passedObjects`
   * passed every per-object check (schema, policy, pod security, PromQL, regexes, secrets),
   * which read nothing but the object and the code. Made from the text's SHA-256, which a file
   * taken from the cache carries.
   */
  objectKey(file: { readonly content: string; readonly sha256?: string }): string {
    return createHash('sha256').update(this.codeState().key).update('\u0000').update(contentHash(file)).digest('hex');
  }

  /** The record of dist/'s files for `writeDist` (synth/file-hashes.ts): files untouched since the last synth are not read. */
  distHashes(): FileHashes {
    return new FileHashes(path.join(this.dir, DIST_FILES));
  }

  /** The keys of the objects the last synth wrote (all had passed their checks); empty when unreadable. */
  passedObjects(): Set<string> {
    const body = unseal(readOrUndefined(path.join(this.dir, 'passed')));
    return new Set(
      body
        ? body
            .toString('latin1')
            .split('\n')
            .filter((k) => k.length === 64)
        : [],
    );
  }

  /**
   * Keeps what this synth rendered and forgets entries it no longer uses. Best effort: a
   * cache that cannot be written leaves the synth's result as it is.
   * @param platforms every platform with its environments, in synth order
   * @param rendered the environments this synth rendered
   * @param passed `objectKey`s of every object this synth wrote
   */
  store(
    platforms: readonly { file: string; name: string; envs: readonly string[] }[],
    rendered: readonly EnvironmentOutput[],
    passed?: Iterable<string>,
  ): void {
    const { platforms: states } = this.lookup();
    const index: Index = { format: FORMAT, platforms: {} };
    const keep = new Set<string>(['index', 'passed', CODE_FILES, DIST_FILES]);
    for (const p of platforms) {
      const state = states.find((s) => s.file === p.file);
      if (!state) return;
      index.platforms[p.file] = { key: state.key, envs: [...p.envs] };
      const overlays = this.overlayFiles(p.name);
      for (const env of p.envs) {
        const scope = `${p.name}/${env}`;
        const envKey = this.envKeys.get(scope) ?? this.environmentKey(state.key, p.name, env, overlays);
        this.envKeys.set(scope, envKey);
        keep.add(envKey);
      }
    }
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      for (const out of rendered) {
        const envKey = this.envKeys.get(out.scope);
        if (envKey) writeAtomic(path.join(this.dir, envKey), encodeEntry(envKey, out));
      }
      if (passed) writeAtomic(path.join(this.dir, 'passed'), seal([...passed].sort().join('\n')));
      writeAtomic(path.join(this.dir, 'index'), seal(JSON.stringify(index)));
      for (const f of fs.readdirSync(this.dir)) if (!keep.has(f)) fs.rmSync(path.join(this.dir, f), { force: true, recursive: true });
    } catch {
      // A read-only checkout or a full disk: the next synth renders again.
    }
  }

  /** The overlay files of a platform with their content hashes, sorted by name. */
  private overlayFiles(platform: string): string[] {
    const dir = path.join(this.root, 'overlays', platform);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .sort()
      .map((f) => {
        const abs = path.join(dir, f);
        return `${f}\u0000${fs.statSync(abs).isFile() ? sha(fs.readFileSync(abs)) : 'not a file'}`;
      });
  }

  /** Hashes the platform's key with the environment's overlay only (the names of the others are in the platform's key). */
  private environmentKey(platformKey: string, platform: string, env: string, overlays: readonly string[]): string {
    const own = overlays.filter((o) => o.startsWith(`${env}.yaml\u0000`) || o.startsWith(`${env}.yml\u0000`));
    return sha([FORMAT, platformKey, `${platform}/${env}`, ...own].join('\n'));
  }

  private readIndex(): Index | undefined {
    const body = unseal(readOrUndefined(path.join(this.dir, 'index')));
    if (body === undefined) return undefined;
    try {
      const index = JSON.parse(body.toString('utf8')) as Index;
      return index.format === FORMAT && typeof index.platforms === 'object' ? index : undefined;
    } catch {
      return undefined;
    }
  }

  private readEntry(envKey: string, scope: string): EnvironmentOutput | undefined {
    return decodeEntry(readOrUndefined(path.join(this.dir, envKey)), envKey, scope);
  }
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(abs));
    else if (entry.isFile()) out.push(abs);
  }
  return out;
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeAtomic(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** `<sha256 of body> <byte length of body>\n<body>` */
function seal(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(`${sha(bytes)} ${bytes.length}\n`), bytes]);
}

/** The body of a sealed file, or undefined when it is missing, cut short or altered. */
function unseal(data: Buffer | undefined): Buffer | undefined {
  if (!data) return undefined;
  const nl = data.indexOf(0x0a);
  if (nl < 0 || nl > 200) return undefined;
  const [digest, length] = data.subarray(0, nl).toString('latin1').split(' ');
  const body = data.subarray(nl + 1);
  if (Number(length) !== body.length || sha(body) !== digest) return undefined;
  return body;
}

/**
 * An entry: a sealed body made of one JSON line (format, key, scope, the paths, byte lengths
 * and SHA-256 of its files and documents, the placement keys), then the contents back to back.
 */
function encodeEntry(key: string, out: EnvironmentOutput): Buffer {
  const contents = [...out.files, ...out.documents].map((f) => Buffer.from(f.content));
  const head = {
    format: FORMAT,
    key,
    scope: out.scope,
    files: out.files.map((f, i) => [f.path, contents[i].length, sha(contents[i])]),
    documents: out.documents.map((d, i) => [d.path, contents[out.files.length + i].length, sha(contents[out.files.length + i])]),
    placement: out.placement,
  };
  return seal(Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), ...contents]));
}

function decodeEntry(data: Buffer | undefined, key: string, scope: string): EnvironmentOutput | undefined {
  const body = unseal(data);
  if (!body) return undefined;
  try {
    const nl = body.indexOf(0x0a);
    const head = JSON.parse(body.subarray(0, nl).toString('utf8')) as {
      format: string;
      key: string;
      scope: string;
      files: [string, number, string][];
      documents: [string, number, string][];
      placement: string[];
    };
    if (head.format !== FORMAT || head.key !== key || head.scope !== scope) return undefined;
    let at = nl + 1;
    const take = ([p, n, hash]: [string, number, string]): CachedFile => {
      const bytes = body.subarray(at, at + n);
      at += n;
      let content: string | undefined;
      return {
        path: p,
        sha256: hash,
        get content() {
          return (content ??= bytes.toString('utf8'));
        },
      };
    };
    const files = head.files.map(take);
    const documents = head.documents.map(take);
    if (at !== body.length) return undefined;
    return { scope, files, documents, placement: head.placement };
  } catch {
    return undefined;
  }
}
