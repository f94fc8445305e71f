/**
 * History's calls that manage jobs: rename one, delete or export several; how an export
 * is saved; and what a person should read when the server keeps or refuses some of them.
 */
import { request, send, type JobView, type ResultFormat } from './api.js';

/** What POST /api/v1/jobs/delete answers: the ids gone, and each one left with the code that kept it. */
export interface DeleteAnswer {
  deleted: string[];
  kept: { id: string; code: string; message: string }[];
}

/** A ZIP the server made, and the name it gave it. */
export interface ExportFile {
  blob: Blob;
  name: string;
}

/** The name a download takes when the server does not give one. */
export const EXPORT_NAME = 'hark-transcripts.zip';

const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export const manageApi = {
  /** A new file name (what lists, search and downloads show); answers the job's view. */
  rename: (id: string, fileName: string) =>
    request<JobView>(`/api/v1/jobs/${encodeURIComponent(id)}`, json('PATCH', { file_name: fileName })),
  /** Deletes the finished ones among `ids`; the others are listed in `kept`, the rest still go. */
  removeMany: (ids: readonly string[]) => request<DeleteAnswer>('/api/v1/jobs/delete', json('POST', { ids })),
  /**
   * The transcripts of completed jobs as one ZIP. A blob, not a link: the request is a POST
   * that carries the tab's key in a header, which a plain download link cannot send.
   */
  exportZip: async (ids: readonly string[], format: ResultFormat): Promise<ExportFile> => {
    const res = await send('/api/v1/jobs/export', { ...json('POST', { ids, format }), headers: { accept: 'application/zip, application/json', 'content-type': 'application/json' } });
    return { blob: await res.blob(), name: attachmentName(res.headers.get('content-disposition')) ?? EXPORT_NAME };
  },
};

/** The file name a Content-Disposition header gives (`attachment; filename="x.zip"`), if a plain one. */
export function attachmentName(header: string | null): string | undefined {
  const name = /filename="([^"/\\]+)"/.exec(header ?? '')?.[1];
  return name === undefined || name.trim() === '' ? undefined : name;
}

/** Why the server kept a job it was asked to delete, in words, for a job named `name`. */
export function keptReason(code: string, name: string): string {
  switch (code) {
    case 'JOB_NOT_FINISHED':
      return `“${name}” has not finished: stop it on its page first, or wait until it ends.`;
    case 'JOB_NOT_FOUND':
      return `“${name}” is already gone (deleted elsewhere, or removed by retention).`;
    default:
      return `“${name}” was kept (${code}).`;
  }
}
