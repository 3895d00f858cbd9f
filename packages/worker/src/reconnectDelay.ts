/** The first wait before reconnecting, and the cap its doubling stops at (ms). */
export const RECONNECT_FIRST_DELAY_MS = 250;
export const RECONNECT_MAX_DELAY_MS = 5000;

/**
 * The wait before reconnect attempt `attempt` (0 for the first): 250 ms, doubling to at most
 * 5 s, shortened by up to a fifth by `jitter` (a number in [0, 1)) so that the workers of a job
 * that lost their coordinator together do not all knock at the same instant.
 */
export function reconnectDelayMs(attempt: number, jitter: number): number {
  const base = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (1 - 0.2 * jitter));
}
