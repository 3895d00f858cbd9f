import { printable, type CoordinatorMessage } from '@adamant/core';
import type { WorkerPool } from './createRound.js';
import type { WorkerSession } from './WorkerServer.js';
import { closeSocket } from './workerSession.js';

/** Longest reason echoed to a quarantined worker in its reject. */
const MAX_REASON = 500;
/** How long a dropped peer has to answer our close frame before its socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The worker server's ready sessions as training sees them: less the ones training dropped (a
 * missed chunk deadline, a refused chunk, a contradicted result), which stop counting at once
 * although their connections take a moment to close, and never a session of a quarantined worker.
 *
 * A quarantined worker is known by the name it gave in its hello (host:pid): when it rejoins, the
 * session is refused as soon as it is ready. A worker started again (a new pid) is a new worker;
 * a peer that lies on purpose can take another name, which is why verification, not quarantine,
 * is what keeps its results out.
 */
export class WorkerRoster implements WorkerPool {
  private readonly dropped = new WeakSet<WorkerSession>();
  private readonly quarantined = new Set<string>();
  /** Sessions refused as quarantined when they became ready: training never saw them. */
  private readonly refused = new WeakSet<WorkerSession>();

  constructor(private readonly server: { readonly ready: WorkerSession[]; send(session: WorkerSession, message: CoordinatorMessage): void }) {}

  get ready(): WorkerSession[] {
    return this.server.ready.filter((s) => !this.dropped.has(s));
  }

  send(session: WorkerSession, message: CoordinatorMessage): void {
    this.server.send(session, message);
  }

  /**
   * Closes a session and stops counting it. A quarantined worker is told why in a reject (it
   * exits); a dropped one sees its connection close and, standalone, rejoins like after any loss.
   */
  drop(session: WorkerSession, reason: string, quarantine: boolean): void {
    if (this.dropped.has(session)) return;
    this.dropped.add(session);
    if (quarantine) {
      this.quarantined.add(helloName(session));
      try {
        this.server.send(session, { type: 'reject', code: 'E_PROTOCOL', message: `quarantined for the rest of this job: ${printable(reason, MAX_REASON)}` });
      } catch {
        // Already gone.
      }
    }
    closeSocket(session.socket, 1008, quarantine ? 'quarantined' : 'dropped by the coordinator');
    setTimeout(() => session.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** A session just became ready: false, and dropped, when its worker is quarantined. */
  admit(session: WorkerSession): boolean {
    if (!this.quarantined.has(helloName(session))) return true;
    this.refused.add(session);
    this.drop(session, 'this worker gave a result that two others contradicted', true);
    return false;
  }

  /** Whether `admit` refused `session`. */
  wasRefused(session: WorkerSession): boolean {
    return this.refused.has(session);
  }
}

/** The name a worker gave in its hello: the session name without the " (address:port)" the server appends. */
function helloName(session: WorkerSession): string {
  return session.name.replace(/ \([^()]*\)$/, '');
}
