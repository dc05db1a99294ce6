// Web-standard globals present in every runtime core targets (browsers, Node, Deno); declared here because
// core compiles without DOM or Node typings to stay pure.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
