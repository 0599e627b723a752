import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import App from './App';
import { PairPage } from './Pair';
import { isDesktop } from './api';
import { applyTheme, initialTheme } from './theme';
import './styles.css';

applyTheme(initialTheme());

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {location.pathname === '/pair' ? <PairPage /> : <App />}
  </StrictMode>,
);

// The app shell opens with no connection once it was loaded (public/sw.js). Browsers only run
// service workers in a secure context (HTTPS, or loopback); the desktop window needs none.
if ('serviceWorker' in navigator && window.isSecureContext && !isDesktop()) {
  navigator.serviceWorker.register('./sw.js').catch(() => {
    // Not fatal: the app works online without it.
  });
}
