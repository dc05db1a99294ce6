export { installNativeCrypto, nodeBackend } from './native-crypto.js';
