import { render } from 'preact';
import { App } from './app.js';
import { openSession } from './auth.js';
import './styles.css';

const root = document.getElementById('app');
// The session cookie first, so the views' EventSource, audio and links already carry it.
if (root !== null) void openSession().then(() => render(<App />, root));
