/** What rendering produces: objects, their files, and the other files written beside them. */

/** A Kubernetes object as rendered: plain JSON. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface RenderedFile {
  /** Path relative to the dist folder: `<platform>/<env>/<region|argocd>/<namespace>/<kind>-<name>.yaml`. */
  readonly path: string;
  readonly manifest: Manifest;
  /** File content: a header naming the sources, then the object as YAML. */
  readonly content: string;
  /** The SHA-256 (hex) of `content` as UTF-8, when already known (a file taken from the synth cache). */
  readonly sha256?: string;
}

/** A file that is not a Kubernetes object (e.g. `<platform>/ARCHITECTURE.md`). */
export interface RenderedDocument {
  readonly path: string;
  readonly content: string;
  /** The SHA-256 (hex) of `content` as UTF-8, when already known. */
  readonly sha256?: string;
}

export interface Rendering {
  /** Sorted by path. */
  readonly files: readonly RenderedFile[];
  /** Written beside the objects, not validated as objects. */
  readonly documents: readonly RenderedDocument[];
  /** The `<platform>/<env>` folders this rendering owns entirely. */
  readonly scopes: readonly string[];
}
