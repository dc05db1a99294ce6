/** The provider that serves this page: the account's first provider, and where a new account is made. */
export const PROVIDER = location.origin;
