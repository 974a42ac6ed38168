import { Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import type { IKernelRef } from '../../labextension/src/env/model';
import {
  followCurrentKernel,
  type IShellLike,
  sessionContextOf
} from '../../labextension/src/env/kernels';

/** The part of an `ISessionContext` that kernels.ts reads. */
class FakeContext {
  constructor(
    public path: string,
    kernelId: string | null
  ) {
    this.kernelId = kernelId;
  }
  kernelId: string | null;
  kernelDisplayName = 'Python 3 (ipykernel)';
  kernelChanged = new Signal<this, unknown>(this);
  statusChanged = new Signal<this, unknown>(this);
  propertyChanged = new Signal<this, unknown>(this);
  disposed = new Signal<this, void>(this);
  get session(): { kernel: { id: string; name: string } | null } | null {
    return {
      kernel: this.kernelId ? { id: this.kernelId, name: 'python3' } : null
    };
  }
}

class FakeShell implements IShellLike {
  currentWidget: Widget | null = null;
  readonly currentChanged = new Signal<this, unknown>(this);
  show(widget: object | null): void {
    this.currentWidget = widget as Widget | null;
    this.currentChanged.emit(undefined);
  }
}

function widgetWith(context: FakeContext | null): object {
  return context ? { sessionContext: context } : { title: 'text file' };
}

describe('followCurrentKernel', () => {
  it('tracks the current notebook kernel, keeping it over widgets without one', () => {
    const shell = new FakeShell();
    const seen: (IKernelRef | null)[] = [];
    const following = followCurrentKernel(shell, kernel => seen.push(kernel));
    expect(seen).toEqual([null]);

    const a = new FakeContext('a.ipynb', 'k1');
    shell.show(widgetWith(a));
    expect(seen[seen.length - 1]).toEqual({
      id: 'k1',
      name: 'Python 3 (ipykernel)',
      path: 'a.ipynb'
    });

    // A text editor becomes current: still a.ipynb's kernel.
    const before = seen.length;
    shell.show(widgetWith(null));
    expect(seen.length).toBe(before);

    // The kernel restarts under another id.
    a.kernelId = 'k2';
    a.kernelChanged.emit(undefined);
    expect(seen[seen.length - 1]?.id).toBe('k2');

    // Another notebook, its kernel still starting.
    const b = new FakeContext('b.ipynb', null);
    shell.show(widgetWith(b));
    expect(seen[seen.length - 1]).toBeNull();
    b.kernelId = 'k3';
    b.statusChanged.emit(undefined);
    expect(seen[seen.length - 1]?.id).toBe('k3');

    // The old notebook no longer reports.
    const count = seen.length;
    a.kernelChanged.emit(undefined);
    expect(seen.length).toBe(count);

    // The notebook closes: no kernel.
    b.disposed.emit(undefined);
    expect(seen[seen.length - 1]).toBeNull();

    following.dispose();
    expect(following.isDisposed).toBe(true);
    const last = seen.length;
    shell.show(widgetWith(new FakeContext('c.ipynb', 'k4')));
    expect(seen.length).toBe(last);
  });

  it('recognizes only widgets with a session context', () => {
    expect(sessionContextOf(null)).toBeNull();
    expect(sessionContextOf({} as Widget)).toBeNull();
    expect(
      sessionContextOf({ sessionContext: { foo: 1 } } as unknown as Widget)
    ).toBeNull();
    const context = new FakeContext('a.ipynb', 'k1');
    expect(
      sessionContextOf({ sessionContext: context } as unknown as Widget)
    ).toBe(context);
  });
});
