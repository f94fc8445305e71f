import type { ComponentChildren } from 'preact';

/**
 * A view's heading and lead paragraph. The heading takes focus when the view
 * opens (tabIndex -1), so keyboard and screen-reader users land on it.
 */
export function PageHead({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1 id={id} tabIndex={-1}>
        {title}
      </h1>
      <p class="lead">{children}</p>
    </div>
  );
}

/** One figure of a `<dl class="stats">`, with its bound when it has one ("3 / 4"). */
export function Stat({ label, value, of }: { label: string; value: ComponentChildren; of?: ComponentChildren }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>
        {value}
        {of !== undefined && <span class="muted"> / {of}</span>}
      </dd>
    </div>
  );
}
