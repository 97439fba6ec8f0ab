/**
 * Turning objects into YAML is half of rendering a large fleet (the `yaml` library builds a
 * document tree per object and checks every plain string against the YAML 1.1 tags). It needs
 * nothing from the constructs, so past a few thousand objects it runs in worker threads while
 * the main thread builds the next environment's charts. The output is the same bytes: the
 * same library and options, on a structured clone of the same object, results kept in order.
 * `render` stays synchronous: in `finish()` the main thread makes the batches no worker has
 * started yet (work stealing: workers hold at most IN_FLIGHT batches each), then blocks
 * (Atomics.wait) until the workers are done.
 */
import * as os from 'node:os';
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { ToStringOptions } from 'yaml';
import { FastYaml } from './yaml-fast';

/** Below this many objects, starting workers costs more than it saves. */
const INLINE_OBJECTS = 2000;
const BATCH = 250;
/** Batches handed to one worker at a time: one to work on, one waiting, the rest stay stealable. */
const IN_FLIGHT = 2;
/** A worker that has not answered for this long is taken for dead. */
const TIMEOUT_MS = 120_000;

// Plain CommonJS, evaluated without the parent's loaders (tsx): it needs only `yaml`.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { port, signal, yamlPath, options } = workerData;
const done = new Int32Array(signal);
const answer = (message) => { port.postMessage(message); Atomics.add(done, 0, 1); Atomics.notify(done, 0); };
try {
  const { stringify } = require(yamlPath);
  port.on('message', ({ start, objects }) => {
    try { answer({ start, contents: objects.map((o) => stringify(o, options)) }); }
    catch (e) { answer({ start, error: String(e && e.stack || e) }); }
  });
} catch (e) {
  answer({ start: -1, error: String(e && e.stack || e) });
}
`;

/**
 * `MERIDIAN_YAML_WORKERS` when set (0 turns workers off: on a runner whose cores are busy with
 * other jobs, a worker only competes with the main thread); else one per spare core, at most 3.
 */
export function defaultWorkers(env = process.env): number {
  const set = Number.parseInt(env.MERIDIAN_YAML_WORKERS ?? '', 10);
  return Number.isInteger(set) && set >= 0 ? set : Math.min(3, os.availableParallelism() - 1);
}

interface Lane {
  worker: Worker;
  port: MessagePort;
  done: Int32Array;
  seen: number;
  pending: number;
}

export class YamlPool {
  private readonly contents: string[] = [];
  private batch: unknown[] = [];
  private batchStart = 0;
  private lanes?: Lane[];
  /** Batches made, not yet handed to a worker. */
  private readonly queue: { start: number; objects: unknown[] }[] = [];
  /** How many objects went to worker threads. */
  public offloaded = 0;
  /** How many objects past the inline ones the main thread made itself while the workers were busy. */
  public stolen = 0;
  /** The main thread's writer: the library's bytes, faster (synth/yaml-fast.ts). */
  private readonly fast: FastYaml;

  /** @param workers how many threads stringify; 0 for none. @default - see defaultWorkers() */
  constructor(
    private readonly options: ToStringOptions,
    private readonly workers = defaultWorkers(),
  ) {
    this.fast = new FastYaml(options);
  }

  /** Queues an object; returns its index in `finish()`'s result. */
  add(object: unknown): number {
    const index = this.batchStart + this.batch.length;
    this.batch.push(object);
    if (this.batch.length >= BATCH) this.flush();
    return index;
  }

  /** Every queued object's YAML, in the order they were added. */
  finish(): string[] {
    this.flush();
    if (this.lanes) {
      try {
        // Rendering is over: rather than wait, the main thread makes batches the workers have
        // not started, from the end of the queue, while they take theirs from the front.
        while (this.queue.length > 0) {
          this.dispatch();
          const batch = this.queue.pop();
          if (!batch) break;
          batch.objects.forEach((o, i) => (this.contents[batch.start + i] = this.fast.stringify(o)));
          this.stolen += batch.objects.length;
        }
        for (const lane of this.lanes) while (lane.pending > 0) this.receive(lane);
      } finally {
        for (const lane of this.lanes) void lane.worker.terminate();
        this.lanes = undefined;
      }
    }
    return this.contents;
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const objects = this.batch;
    const start = this.batchStart;
    this.batch = [];
    this.batchStart += objects.length;
    if (this.workers < 1 || start + objects.length <= INLINE_OBJECTS) {
      objects.forEach((o, i) => (this.contents[start + i] = this.fast.stringify(o)));
      return;
    }
    this.lanes ??= this.start();
    this.queue.push({ start, objects });
    this.dispatch();
  }

  /** Collects what the workers have answered and keeps each busy with at most IN_FLIGHT batches. */
  private dispatch(): void {
    for (const lane of this.lanes!) {
      let message;
      while (lane.pending > 0 && (message = receiveMessageOnPort(lane.port))) this.store(lane, message.message);
      while (lane.pending < IN_FLIGHT && this.queue.length > 0) {
        const batch = this.queue.shift()!;
        lane.port.postMessage(batch);
        lane.pending++;
        this.offloaded += batch.objects.length;
      }
    }
  }

  private start(): Lane[] {
    return Array.from({ length: this.workers }, () => {
      const { port1, port2 } = new MessageChannel();
      const signal = new SharedArrayBuffer(4);
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        execArgv: [],
        workerData: { port: port2, signal, yamlPath: require.resolve('yaml'), options: this.options },
        transferList: [port2],
      });
      worker.unref();
      // A worker that dies shows up as a timeout in receive(); its event must not crash the synth.
      worker.on('error', () => undefined);
      return { worker, port: port1, done: new Int32Array(signal), seen: 0, pending: 0 };
    });
  }

  /** Blocks until the lane answers one batch, and stores it. */
  private receive(lane: Lane): void {
    let message = receiveMessageOnPort(lane.port);
    while (!message) {
      if (Atomics.wait(lane.done, 0, lane.seen, TIMEOUT_MS) === 'timed-out') throw new Error(`YAML worker gave no answer in ${TIMEOUT_MS / 1000} s`);
      lane.seen = Atomics.load(lane.done, 0);
      message = receiveMessageOnPort(lane.port);
    }
    this.store(lane, message.message);
  }

  private store(lane: Lane, message: unknown): void {
    const { start, contents, error } = message as { start: number; contents?: string[]; error?: string };
    if (error !== undefined) throw new Error(`YAML worker failed: ${error}`);
    contents!.forEach((c, i) => (this.contents[start + i] = c));
    lane.pending--;
  }
}
