/**
 * Hands a blob made in the page to the browser's downloads under `name`, as a click on a download
 * link would (an export's ZIP, the live captions' files).
 */
export function saveFile(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked later, not at once: the browser reads the blob after the click returns.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A file name without its extension, for the files derived from it (`talk.wav` -> `talk`). */
export function baseName(name: string): string {
  return name.replace(/\.[^.]+$/, '') || 'transcript';
}
