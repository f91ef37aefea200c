// Coalescing: whatever arrives between two frames is applied and drawn once, at the next frame.
// A burst of a thousand live events costs one render, not a thousand.

/**
 * Returns `schedule()`: calls `work` once at the next animation frame, however often it is
 * called before then. A hidden tab draws no frames, so a timer stands in there: the page keeps
 * applying what arrives (and its queues stay short) without painting.
 */
export function coalesced(work) {
  let pending = 0;
  return function schedule() {
    if (pending) return;
    const token = ++coalesced.counter;
    pending = token;
    const run = () => {
      if (pending !== token) return;
      pending = 0;
      work();
    };
    requestAnimationFrame(run);
    setTimeout(run, document.hidden ? 250 : 1000);
  };
}
coalesced.counter = 0;

/**
 * Returns `schedule()`: runs the async `work` at most once per `interval` ms, the last call
 * after a burst included, never two at once.
 */
export function throttled(work, interval) {
  let last = 0;
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    last = performance.now();
    try {
      await work();
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  function schedule() {
    if (timer !== null) return;
    const wait = Math.max(0, last + interval - performance.now());
    timer = setTimeout(run, wait);
  }
  return schedule;
}
