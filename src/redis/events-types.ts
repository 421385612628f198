import type { z } from 'zod';
import type { PersistedMessage, ProgressMessageSchema } from '../contracts/job.ts';

export type { PersistedMessage };
export type ProgressMessage = z.infer<typeof ProgressMessageSchema>;
