import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every relative link and #anchor in README.md and docs/ points at a file that
 * exists and, for an anchor, at a heading of that file (as GitHub names it).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** The text outside fenced code blocks, where a `#` is a comment and `](` is code. */
function prose(markdown: string): string {
  let inFence = false;
  return markdown
    .split('\n')
    .filter((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence;
        return false;
      }
      return !inFence;
    })
    .join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = (heading ?? '').replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Targets of inline links and images, `[text](target)` and `![alt](target "title")`. */
function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '');
}

const files = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))];

describe.each(files.map((f) => [relative(root, f), f]))('%s', (_name, file) => {
  const text = readFileSync(file, 'utf8');
  const relativeLinks = links(text).filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l));

  it('links only to files that exist and headings that exist', () => {
    const broken: string[] = [];
    for (const link of relativeLinks) {
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      if (!existsSync(target)) {
        broken.push(`${link}: no such file`);
        continue;
      }
      if (anchor !== undefined && anchor !== '' && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
        broken.push(`${link}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('the anchor rule', () => {
  it('names headings as GitHub does', () => {
    const names = anchors('# Live streaming: `GET /v1/audio/stream` (WebSocket)\n## With the `openai` client\n## Jobs\n## Jobs\n```sh\n# a comment\n```\n');
    expect([...names]).toEqual(['live-streaming-get-v1audiostream-websocket', 'with-the-openai-client', 'jobs', 'jobs-1']);
  });
});

it('the README stays short enough to read in ten minutes', () => {
  expect(readFileSync(join(root, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(260);
});
