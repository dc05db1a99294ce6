import { config } from 'zod/mini';

// The provider's Content-Security-Policy forbids eval: zod must not even probe for it (imported first).
config({ jitless: true });
