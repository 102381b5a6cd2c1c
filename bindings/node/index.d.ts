// index.d.ts — types of the framebroker Node binding (index.cjs / index.mjs).

/** The render's geometry; fixed for its life. */
export interface Geometry {
  readonly width: number;
  readonly height: number;
  /** ffmpeg's name: "rgba", "yuv420p", ... */
  readonly pixFmt: string;
  /** The frame rate rounded to the nearest integer (at least 1); exactly fpsNum / fpsDen. */
  readonly fps: number;
  readonly fpsNum: number;
  readonly fpsDen: number;
  /** Ring slots: at most this many frames in flight. */
  readonly slots: number;
  /** Frames in the whole render: 0 .. frames-1. */
  readonly frames: number;
  /** Bytes of one raw frame. */
  readonly frameBytes: number;
  /** Writable bytes of each claimed frame's `data`. */
  readonly slotBytes: number;
  /** "raw" (publish frameBytes), "png" or "jpeg" (publish one image's length). */
  readonly frameFormat: 'raw' | 'png' | 'jpeg' | string;
  /** This ring renders frames first .. end-1 (all of them, or one --range chunk). */
  readonly first: number;
  readonly end: number;
}

/** A claimed frame: render frame `frame` straight into `data` (the slot itself). */
export interface Claim {
  readonly frame: number;
  /** slotBytes long, over the shared slot (no copy); length 0 once the claim is over. */
  readonly data: Buffer;
}

/** Errors carry the errno name and the negative errno, as Node's own do. */
export interface FramebrokerError extends Error {
  /** 'ENOENT', 'ECANCELED', 'ESTALE', 'ETIMEDOUT', 'EINVAL', 'EBUSY', 'EBADF', ... */
  code: string;
  /** Negative, e.g. -2 for ENOENT. */
  errno: number;
}

export interface AttachOptions {
  /** Milliseconds to wait for the segment to appear (default 5000; < 0 forever). */
  timeout?: number;
}

export declare class Producer implements AsyncIterable<Claim> {
  private constructor();
  readonly geometry: Geometry;
  /** The next frame, or null when no frame is left.  One claim() at a time (a second one rejects with EBUSY). */
  claim(): Promise<Claim | null>;
  /** Hand the claimed frame to the encoder; length defaults to frameBytes for raw renders.
   *  A refused length throws EINVAL, the frame still claimed; EFAULT with a `data` Buffer on
   *  the error: refused, and its view could not be put back — still claimed, `data` its new Buffer. */
  publish(length?: number): void;
  /** Give the claimed frame back, for another producer (or this one, later). */
  abortClaim(): void;
  /** Fail the whole render with `reason`: true if this call ended it, false if it had ended already. */
  fail(reason: string): boolean;
  /** Give back a held frame, reject a waiting claim() (EBADF), unregister.  Idempotent. */
  detach(): void;
  /** The frame claimed now (not yet published or given back), or null. */
  readonly claimedFrame: number | null;
  /** Each claimed frame; the loop body must publish() or abortClaim() it. */
  [Symbol.asyncIterator](): AsyncGenerator<Claim, void, undefined>;
}

/** Attach to the render `name`, or (omitted / null) to the one that started this process (FB_SEGMENT / FB_FD). */
export declare function attach(name?: string | null, options?: AttachOptions): Promise<Producer>;

/** The exit status that asks fb-render --source attach: to give the frame back and restart this process. */
export declare const RESTART_EXIT_CODE: 4;

/** The linked library's version, "MAJOR.MINOR.PATCH". */
export declare const version: string;

declare const framebroker: {
  attach: typeof attach;
  Producer: typeof Producer;
  RESTART_EXIT_CODE: typeof RESTART_EXIT_CODE;
  version: string;
};
export default framebroker;
