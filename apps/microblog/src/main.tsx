import './no-eval.js';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import './styles.css';

// Keeps the app openable while its provider is down (see sw/sw.ts).
if ('serviceWorker' in navigator) void navigator.serviceWorker.register('/sw.js');

createRoot(document.getElementById('root')!).render(<App />);
