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

/**
 * Whether `bytes` more fit in `space`. A file system that states no size (some
 * FUSE mounts answer statfs with zeros) says nothing about the room left: it is
 * trusted, and a write that does not fit fails on its own.
 */
export function fits(space: DiskSpace, bytes: number): boolean {
  return space.size === 0 || bytes <= space.available;
}

/** Bytes for people: `12.3 MB`. */
export const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
