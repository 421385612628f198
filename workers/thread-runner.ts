import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { JobControl } from './job-controls.ts';
import { trainingThreadEntry } from './thread-entry.ts';
import { Control, type DoneMessage, type EpochMessage, type ErrorMessage, type ProgressMessage, type ReadyMessage, type ThreadInit, type ThreadMessage } from './thread-protocol.ts';

export interface ThreadCallbacks {
  onReady(m: ReadyMessage): void;
  /** Awaited one at a time, in epoch order; a rejection stops the thread and becomes the outcome. */
  onEpoch(m: EpochMessage): Promise<void>;
  onProgress(m: ProgressMessage): void;
}

export type ThreadOutcome = DoneMessage | ErrorMessage;

/** How long a thread may take to exit after its last message before it is terminated. */
const EXIT_GRACE_MS = 2000;

/**
 * Run one training thread to its end and return its last word (`done` or `error`) once every epoch it posted has
 * been handled and the thread has exited, so "the job ended" always also means "its thread ended".
 */
export function runTrainingThread(init: ThreadInit, control: JobControl, cb: ThreadCallbacks, log: Logger): Promise<ThreadOutcome> {
  const { url, argv } = trainingThreadEntry();
  const transferList = init.checkpoint ? [init.checkpoint.buffer as ArrayBuffer] : [];
  const thread = new Worker(url, { workerData: init, argv, transferList, name: `keiko-train-${init.jobId}` });
  const tlog = log.child({ threadId: thread.threadId });

  let chain = Promise.resolve();
  let chainError: unknown;
  let final: ThreadOutcome | undefined;
  let crash: Error | undefined;
  let exitTimer: NodeJS.Timeout | undefined;

  const expectExit = () => {
    exitTimer ??= setTimeout(() => {
      tlog.warn('training thread did not exit after its last message: terminating it');
      void thread.terminate();
    }, EXIT_GRACE_MS);
  };

  thread.on('message', (m: ThreadMessage) => {
    switch (m.type) {
      case 'ready':
        cb.onReady(m);
        break;
      case 'epoch':
        chain = chain.then(async () => {
          if (chainError !== undefined || control.value === Control.Lost) return;
          try {
            await cb.onEpoch(m);
          } catch (e) {
            chainError = e;
            control.request(Control.Stop);
          }
        });
        break;
      case 'progress':
        cb.onProgress(m);
        break;
      case 'done':
      case 'error':
        final = m;
        expectExit();
        break;
    }
  });
  thread.on('error', (e) => {
    crash = e;
  });

  return new Promise((resolve) => {
    thread.once('exit', (code) => {
      clearTimeout(exitTimer);
      tlog.info({ jobId: init.jobId, exitCode: code }, 'training thread ended');
      // Let the message queue drain (a message posted just before exit), then every pending commit.
      setImmediate(() => {
        void chain.then(() => {
          if (chainError !== undefined) {
            const message = chainError instanceof Error ? chainError.message : String(chainError);
            resolve({ type: 'error', code: 'COMMIT_FAILED', message: `could not record an epoch: ${message}`, retryable: true });
          } else if (final) {
            resolve(final);
          } else {
            const message = crash ? crash.message : `training thread exited with code ${code} without a result`;
            const oom = (crash as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
            resolve({ type: 'error', code: oom ? 'OUT_OF_MEMORY' : 'THREAD_CRASHED', message, retryable: false });
          }
        });
      });
    });
  });
}
