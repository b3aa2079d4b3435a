/**
 * Runs `job` now and again `intervalMs` after each run ends, so two runs
 * never overlap, until stopped; a failed run goes to `onError` and the next
 * run still comes. The background loops of the server (reminders, the
 * search index) share it.
 */
export function repeat(
  intervalMs: number,
  job: () => Promise<void>,
  onError: (err: unknown) => void,
) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = job().catch(onError);
    void running.then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  tick();
  return {
    /** Resolves once a run in progress has finished. */
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
