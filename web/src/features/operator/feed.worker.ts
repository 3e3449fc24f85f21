/**
 * The console's feed off the page's main thread: the gateway's `feed` text (about a
 * megabyte with 10,000 doctors) is parsed and turned into a frame here, and the frame's
 * arrays are handed back without copying. The worker keeps the last doctor list, so the
 * 10,000 ids cross back only when the list changed.
 */
import { buildFrame, transferables, type FromWorker, type ToWorker } from "./liveLayer";

const scope = self as unknown as DedicatedWorkerGlobalScope;
let previous: string[] | null = null;

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "reset") {
    previous = null;
    return;
  }
  try {
    const frame = buildFrame(message.data, previous);
    if (frame.doctorIds) previous = frame.doctorIds;
    scope.postMessage({ type: "frame", gen: message.gen, frame } satisfies FromWorker, transferables(frame));
  } catch (exc) {
    scope.postMessage({ type: "error", gen: message.gen, detail: exc instanceof Error ? exc.message : String(exc) } satisfies FromWorker);
  }
};
