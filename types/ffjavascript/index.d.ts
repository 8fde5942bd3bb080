declare module 'ffjavascript' {
  export interface Curve {
    terminate(): Promise<void>;
  }
  export function buildBn128(singleThread?: boolean): Promise<Curve>;
}
