import { useEffect, useRef } from 'preact/hooks';
import { LiveRegion } from './announce.js';
import { KeyButton, KeyPrompt } from './components/key-prompt.js';
import { href, useRoute, type Route } from './router.js';
import { HistoryView } from './views/history.js';
import { JobPage } from './views/job.js';
import { ModelsView } from './views/models.js';
import { SystemView } from './views/system.js';
import { UploadView } from './views/upload.js';

const NAV: { name: Route['name']; label: string; href: string }[] = [
  { name: 'upload', label: 'Upload', href: href.upload },
  { name: 'history', label: 'History', href: href.history },
  { name: 'system', label: 'System', href: href.system },
  { name: 'models', label: 'Models', href: href.models },
];

function title(route: Route): string {
  switch (route.name) {
    case 'upload':
      return 'Upload';
    case 'history':
      return 'History';
    case 'job':
      return 'Job';
    case 'system':
      return 'System';
    case 'models':
      return 'Models';
    case 'not-found':
      return 'Not found';
  }
}

function View({ route }: { route: Route }) {
  switch (route.name) {
    case 'upload':
      return <UploadView />;
    case 'history':
      return <HistoryView />;
    case 'job':
      return <JobPage id={route.id} />;
    case 'system':
      return <SystemView />;
    case 'models':
      return <ModelsView />;
    case 'not-found':
      return (
        <section>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            There is no page at “{route.hash}”. Go to <a href={href.upload}>Upload</a> or <a href={href.history}>History</a>.
          </p>
        </section>
      );
  }
}

export function App() {
  const route = useRoute();
  const first = useRef(true);
  // The job view is part of History for the navigation.
  const current = route.name === 'job' ? 'history' : route.name;

  useEffect(() => {
    document.title = `${title(route)} · hark`;
    // After a navigation (not the first load), a screen reader starts at the new view's heading.
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
    window.scrollTo(0, 0);
  }, [route.name, route.name === 'job' ? route.id : '']);

  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          // The hash is the router's: move focus without navigating.
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <div class="topbar-inner">
          <a class="brand" href={href.upload} aria-label="hark home">
            <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
              <path d="M4 10v4M8 7v10M12 4v16M16 8v8M20 11v2" />
            </svg>
            <span>hark</span>
          </a>
          <nav aria-label="Main">
            <ul>
              {NAV.map((n) => (
                <li key={n.name}>
                  <a href={n.href} aria-current={current === n.name ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <a class="docs-link" href="/docs">
            API docs
          </a>
          <KeyButton />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <KeyPrompt />
        <View route={route} />
      </main>
      <LiveRegion />
    </>
  );
}
