declare module 'r1csfile' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export function readR1cs(file: string, options: Record<string, unknown>): Promise<any>;
}
