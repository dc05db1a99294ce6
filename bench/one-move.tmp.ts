import { moveAccount } from './move.js';
const r = await moveAccount();
console.log(JSON.stringify(r));
process.exit(0);
