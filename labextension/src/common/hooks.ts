import type { ISignal } from '@lumino/signaling';
import { useEffect, useReducer } from 'react';

/** Re-render the calling component whenever `signal` is emitted. */
export function useSignal<T>(signal: ISignal<T, unknown>): void {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const onChange = (): void => bump();
    signal.connect(onChange);
    return () => {
      signal.disconnect(onChange);
    };
  }, [signal]);
}
