export const quotaMessage = (a: { used: number; quota: number }, bytes: number): string =>
  `over quota: ${a.used} of ${a.quota} bytes used and this write needs ${bytes} more (ask the provider for more space)`;
