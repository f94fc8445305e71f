import { statfs } from 'node:fs/promises';

/** Space of a file system in bytes: what its user may still write, and its size (0: it states none). */
export interface DiskSpace {
  available: number;
  size: number;
}

/** The space of the file system holding `path` (statfs). */
export async function diskSpace(path: string): Promise<DiskSpace> {
  const fs = await statfs(path);
  return { available: fs.bavail * fs.bsize, size: fs.blocks * fs.bsize };
}

/** Bytes for people: `12.3 MB`. */
export const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
